package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: exact below 256 ns,
// then 128 buckets per power of two, so a percentile is within 0.4% of the
// true sample (the bucket's midpoint is reported). Recording never allocates;
// the zero value is ready to use and is about 35 KB.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64 // nanoseconds
	min    int64
	max    int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	// histMaxShift caps the buckets at 2^41 ns (about 36.6 minutes): a
	// larger value counts in the last bucket (Max stays exact). A latency
	// beyond that is a measurement bug, not a hub.
	histMaxShift = 33
	histBuckets  = histSub + (histMaxShift+1)*histSub
)

// Record adds one sample; negative samples count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
	h.counts[bucketOf(v)]++
}

func bucketOf(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	if shift > histMaxShift {
		return histBuckets - 1
	}
	top := int(v >> shift) // in [histSub, 2*histSub)
	return histSub + shift*histSub + top - histSub
}

// bucketRange returns the smallest and largest value bucket b holds.
func bucketRange(b int) (lo, hi int64) {
	if b < histSub {
		return int64(b), int64(b)
	}
	shift := (b - histSub) / histSub
	top := int64(histSub + (b-histSub)%histSub)
	return top << shift, (top+1)<<shift - 1
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the exact extremes (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the average sample (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the q-quantile (0 <= q <= 1) by the nearest-rank method:
// the smallest recorded value with at least ceil(q*n) samples at or below
// it, as its bucket's midpoint, clamped to the exact minimum and maximum.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		lo, hi := bucketRange(b)
		v := lo + (hi-lo)/2
		return time.Duration(min(max(v, h.min), h.max))
	}
	return time.Duration(h.max)
}
