package filter

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// within reports |got-want| <= tol.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestLossBinomial(t *testing.T) {
	// 100 000 frames at p=5%: mean 5000, sd sqrt(n p (1-p)) = 68.9. The
	// seed is fixed, so this never flakes; the bound (5 sd) says what a
	// correct Bernoulli source must meet for any seed.
	const n, p = 100_000, 0.05
	for _, seed := range []string{"1", "2", "3"} {
		t.Run("seed-"+seed, func(t *testing.T) {
			pol := mustParse(t, "seed: "+seed+"\nrules:\n  - {name: l, match: {link: a->b}, loss: 5%}\n")
			drops := 0
			f := plain()
			for i := range n {
				if decide(pol, time.Duration(i)*time.Microsecond, link("a", "b"), f).Drop {
					drops++
				}
			}
			sd := math.Sqrt(n * p * (1 - p))
			if !within(float64(drops), n*p, 5*sd) {
				t.Errorf("got %d drops of %d, want %v ± %.0f", drops, n, n*p, 5*sd)
			}
			if st := pol.Stats().Rules[0]; st.Matched != n || st.Dropped != uint64(drops) {
				t.Errorf("got counters %+v, want matched %d dropped %d", st, n, drops)
			}
		})
	}
}

func TestLossGilbertElliottBursts(t *testing.T) {
	// Simple Gilbert (1-h=100%, 1-k=0%): bursts are the bad-state sojourns,
	// geometric with mean 1/r; loss fraction p/(p+r).
	tests := []struct {
		name string
		p, r float64
	}{
		{"p1-r25", 0.01, 0.25},
		{"p5-r50", 0.05, 0.50},
		{"p2-r10", 0.02, 0.10},
	}
	const n = 300_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := mustParse(t, "seed: 9\nrules:\n  - name: ge\n    loss: {gemodel: {p: "+
				formatFloat(tt.p)+", r: "+formatFloat(tt.r)+"}}\n")
			f := plain()
			var bursts []int
			run, lost := 0, 0
			for i := range n {
				if decide(pol, time.Duration(i), link("a", "b"), f).Drop {
					run++
					lost++
				} else if run > 0 {
					bursts = append(bursts, run)
					run = 0
				}
			}
			mean := float64(lost) / float64(len(bursts))
			wantMean := 1 / tt.r
			// sd of one geometric burst is sqrt(1-r)/r; 5 standard errors.
			tol := 5 * math.Sqrt(1-tt.r) / tt.r / math.Sqrt(float64(len(bursts)))
			if !within(mean, wantMean, tol) {
				t.Errorf("got mean burst %.3f over %d bursts, want %.3f ± %.3f", mean, len(bursts), wantMean, tol)
			}
			ones := 0
			for _, b := range bursts {
				if b == 1 {
					ones++
				}
			}
			// P(burst = 1) = r.
			frac := float64(ones) / float64(len(bursts))
			if tol1 := 5 * math.Sqrt(tt.r*(1-tt.r)/float64(len(bursts))); !within(frac, tt.r, tol1) {
				t.Errorf("got P(burst=1) %.3f, want %.3f ± %.3f", frac, tt.r, tol1)
			}
			wantLoss := tt.p / (tt.p + tt.r)
			if got := float64(lost) / n; !within(got, wantLoss, 0.15*wantLoss) {
				t.Errorf("got loss fraction %.4f, want %.4f ± 15%%", got, wantLoss)
			}
		})
	}
}

func TestLossGilbertElliottStateLoss(t *testing.T) {
	// 1-k=100% loses every good-state frame and 1-h=0% keeps every bad one:
	// with p=r=1/2 exactly half the frames are lost.
	pol := mustParse(t, "rules:\n  - {name: ge, loss: {gemodel: {p: 50%, r: 50%, 1-h: 0%, 1-k: 100%}}}\n")
	lost := 0
	const n = 20_000
	for i := range n {
		d := decide(pol, time.Duration(i), link("a", "b"), plain())
		if d.Drop {
			lost++
			if !strings.Contains(d.Notes[0].DetailText(), "state=good") {
				t.Fatalf("frame %d lost with note %v, want state=good", i, d.Notes)
			}
		}
	}
	if !within(float64(lost), n/2, 5*math.Sqrt(n/4)) {
		t.Errorf("got %d lost of %d, want about half", lost, n)
	}
}

func delays(t *testing.T, pol *Policy, n int, gap time.Duration) []time.Duration {
	t.Helper()
	out := make([]time.Duration, n)
	for i := range n {
		d := decide(pol, time.Duration(i)*gap, link("a", "b"), plain())
		if d.Drop || len(d.Copies) != 1 {
			t.Fatalf("frame %d: got %+v, want one delayed copy", i, d)
		}
		out[i] = d.Copies[0].Delay
	}
	return out
}

func meanSD(ds []time.Duration) (mean, sd float64) {
	for _, d := range ds {
		mean += float64(d)
	}
	mean /= float64(len(ds))
	for _, d := range ds {
		sd += (float64(d) - mean) * (float64(d) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(ds)))
}

func TestDelayUniform(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: d, delay: {fixed: 20ms, jitter: 5ms, order: reorder}}\n")
	ds := delays(t, pol, 50_000, time.Millisecond)
	mean, sd := meanSD(ds)
	// Uniform on [15ms, 25ms]: sd = 5ms/sqrt(3) = 2.887ms; the mean's
	// standard error is 13µs.
	if !within(mean, float64(20*time.Millisecond), float64(100*time.Microsecond)) {
		t.Errorf("got mean %v, want 20ms ± 100µs", time.Duration(mean))
	}
	if !within(sd, float64(5*time.Millisecond)/math.Sqrt(3), float64(100*time.Microsecond)) {
		t.Errorf("got sd %v, want 2.887ms ± 100µs", time.Duration(sd))
	}
	if lo, hi := slices.Min(ds), slices.Max(ds); lo < 15*time.Millisecond || hi > 25*time.Millisecond {
		t.Errorf("got delays in [%v, %v], want within [15ms, 25ms]", lo, hi)
	}
}

func TestDelayNormal(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: d, delay: {fixed: 100ms, jitter: 10ms, distribution: normal, order: reorder}}\n")
	ds := delays(t, pol, 50_000, time.Millisecond)
	mean, sd := meanSD(ds)
	if !within(mean, float64(100*time.Millisecond), float64(300*time.Microsecond)) {
		t.Errorf("got mean %v, want 100ms ± 300µs", time.Duration(mean))
	}
	if !within(sd, float64(10*time.Millisecond), float64(300*time.Microsecond)) {
		t.Errorf("got sd %v, want 10ms ± 300µs", time.Duration(sd))
	}
}

func TestDelayOrder(t *testing.T) {
	// Frames 1ms apart with ±5ms jitter: FIFO never lets departures go
	// backwards; reorder does, often.
	tests := []struct {
		order         string
		wantInversion bool
	}{{"fifo", false}, {"reorder", true}}
	for _, tt := range tests {
		t.Run(tt.order, func(t *testing.T) {
			pol := mustParse(t, "rules:\n  - {name: d, delay: {fixed: 20ms, jitter: 5ms, order: "+tt.order+"}}\n")
			ds := delays(t, pol, 2000, time.Millisecond)
			inversions := 0
			for i := 1; i < len(ds); i++ {
				prev := time.Duration(i-1)*time.Millisecond + ds[i-1]
				if cur := time.Duration(i)*time.Millisecond + ds[i]; cur < prev {
					inversions++
				}
			}
			if got := inversions > 0; got != tt.wantInversion {
				t.Errorf("got %d inversions, want inversions %v", inversions, tt.wantInversion)
			}
		})
	}
}

// TestDelayClampedIsNoted: with jitter larger than the delay, a draw that
// comes to 0 or less leaves the copy undelayed, but it is noted with its
// draw and counted delayed like any other: every copy the delay step drew
// for, and only those, says what it drew.
func TestDelayClampedIsNoted(t *testing.T) {
	for _, tc := range []struct{ name, delay, clamped string }{
		{"uniform-reorder", "{fixed: 1ms, jitter: 10ms, order: reorder}", "1ms±10ms uniform draw="},
		{"normal-reorder", "{fixed: 1ms, jitter: 10ms, distribution: normal, order: reorder}", "1ms±10ms normal draw="},
		{"uniform-fifo", "1ms±10ms", "1ms±10ms uniform draw="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := mustParse(t, "seed: 3\nrules:\n  - {name: j, delay: "+tc.delay+"}\n")
			const n = 1000
			clamped := 0
			for i := range n {
				d := decide(pol, time.Duration(i)*time.Second, link("a", "b"), plain())
				if len(d.Copies) != 1 || len(d.Copies[0].Notes) != 1 {
					t.Fatalf("frame %d: got %s, want one copy with one delay note", i, formatDecision(d))
				}
				c := d.Copies[0]
				note := c.Notes[0].String()
				if !strings.HasPrefix(note, "rule j: delay ("+tc.clamped) {
					t.Fatalf("frame %d: got note %q, want a delay note with its draw", i, note)
				}
				if strings.Contains(note, " clamped") {
					clamped++
					if c.Delay != 0 {
						t.Errorf("frame %d: got delay %v with note %q, want 0", i, c.Delay, note)
					}
				} else if c.Delay == 0 {
					t.Errorf("frame %d: got delay 0 with note %q, want it marked clamped", i, note)
				}
			}
			if clamped == 0 {
				t.Errorf("got no clamped draw in %d frames of 1ms±10ms", n)
			}
			if st := pol.Stats().Rules[0]; st.Matched != n || st.Delayed != n {
				t.Errorf("got matched=%d delayed=%d, want %d of each", st.Matched, st.Delayed, n)
			}
		})
	}
}

// TestDelayClampedHeldIsNoted: a clamped draw that FIFO order then holds
// back says both, so the note adds up to the copy's delay.
func TestDelayClampedHeldIsNoted(t *testing.T) {
	pol := mustParse(t, "seed: 3\nrules:\n  - {name: j, delay: 1ms±10ms}\n")
	seen := false
	for i := range 1000 {
		d := decide(pol, time.Duration(i)*100*time.Microsecond, link("a", "b"), plain())
		if len(d.Copies) == 1 && len(d.Copies[0].Notes) == 1 {
			if note := d.Copies[0].Notes[0].String(); strings.Contains(note, " clamped fifo+") {
				seen = true
				if d.Copies[0].Delay <= 0 {
					t.Errorf("frame %d: got delay %v with note %q, want the hold", i, d.Copies[0].Delay, note)
				}
			}
		}
	}
	if !seen {
		t.Errorf("got no clamped and held copy in 1000 frames of 1ms±10ms 100µs apart")
	}
}

func TestDelayFIFOIsPerLink(t *testing.T) {
	// A long delay on a->b never holds up b->a.
	pol := mustParse(t, "rules:\n  - {name: d, match: {link: a->b}, delay: 1s}\n")
	decide(pol, 0, link("a", "b"), plain())
	if d := decide(pol, time.Millisecond, link("b", "a"), plain()); len(d.Copies) != 0 {
		t.Errorf("b->a got %+v, want an immediate copy", d)
	}
}

func TestReorderGap(t *testing.T) {
	// netem "delay 10ms reorder 100% gap 5": frames 5, 10, 15... go at once.
	pol := mustParse(t, "rules:\n  - {name: r, delay: 10ms, reorder: {probability: 100%, gap: 5}}\n")
	for i := 1; i <= 20; i++ {
		d := decide(pol, time.Duration(i)*time.Millisecond, link("a", "b"), plain())
		wantImmediate := i%5 == 0
		if got := len(d.Copies) == 1 && d.Copies[0].Delay == 0; got != wantImmediate {
			t.Errorf("frame %d: got %+v, want immediate %v", i, d, wantImmediate)
		}
		if wantImmediate && (len(d.Copies[0].Notes) != 1 || d.Copies[0].Notes[0].Action != "reorder") {
			t.Errorf("frame %d: got notes %v, want one reorder note", i, d.Copies[0].Notes)
		}
	}
}

func TestReorderProbability(t *testing.T) {
	// gap 1 (the default): each frame skips the delay with probability p.
	pol := mustParse(t, "rules:\n  - {name: r, delay: 10ms, reorder: 25%}\n")
	const n = 40_000
	early := 0
	for i := range n {
		if d := decide(pol, time.Duration(i)*time.Millisecond, link("a", "b"), plain()); d.Copies[0].Delay == 0 {
			early++
		}
	}
	if sd := math.Sqrt(n * 0.25 * 0.75); !within(float64(early), n*0.25, 5*sd) {
		t.Errorf("got %d reordered of %d, want %v ± %.0f", early, n, n*0.25, 5*sd)
	}
}

func TestDuplicate(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: d, duplicate: {probability: 2%, copies: 2}}\n")
	const n = 50_000
	dups := 0
	for i := range n {
		d := decide(pol, time.Duration(i), link("a", "b"), plain())
		switch len(d.Copies) {
		case 0:
		case 3:
			dups++
			if d.Copies[0].Notes != nil || d.Copies[1].Notes[0].DetailText() != "copy 1" || d.Copies[2].Notes[0].DetailText() != "copy 2" {
				t.Fatalf("frame %d: got copies %+v, want original, copy 1, copy 2", i, d.Copies)
			}
		default:
			t.Fatalf("frame %d: got %d copies, want 1 or 3", i, len(d.Copies))
		}
	}
	if sd := math.Sqrt(n * 0.02 * 0.98); !within(float64(dups), n*0.02, 5*sd) {
		t.Errorf("got %d duplicated of %d, want %v ± %.0f", dups, n, n*0.02, 5*sd)
	}
	if st := pol.Stats().Rules[0]; st.Duplicated != uint64(2*dups) {
		t.Errorf("got duplicated counter %d, want %d", st.Duplicated, 2*dups)
	}
}

func bitDiff(a, b []byte) (n int, first int) {
	first = -1
	for i := range a {
		x := a[i] ^ b[i]
		for x != 0 {
			if first < 0 {
				first = i
			}
			n += int(x & 1)
			x >>= 1
		}
	}
	return n, first
}

func TestCorrupt(t *testing.T) {
	tests := []struct {
		name, skip string
		bits       int
		lo         int // first byte that may change
	}{
		{"anywhere", "none", 1, 0},
		{"past-ethernet", "ethernet", 2, 14},
		{"past-ip", "ip", 3, 34},
		{"payload-only", "transport", 8, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := mustParse(t, "rules:\n  - {name: c, corrupt: {probability: 100%, bits: "+
				formatUint(uint64(tt.bits))+", skip: "+tt.skip+"}}\n")
			for i := range 500 {
				f := plain()
				orig := bytes.Clone(f)
				d := decide(pol, time.Duration(i), link("a", "b"), f)
				if !bytes.Equal(f, orig) {
					t.Fatal("Decide modified the caller's frame")
				}
				if len(d.Copies) != 1 || d.Copies[0].Frame == nil {
					t.Fatalf("got %+v, want one corrupted copy", d)
				}
				n, first := bitDiff(orig, d.Copies[0].Frame)
				if n != tt.bits || first < tt.lo {
					t.Fatalf("got %d bits flipped from byte %d, want %d from byte %d or later", n, first, tt.bits, tt.lo)
				}
			}
		})
	}
}

func TestCorruptProbability(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: c, corrupt: 1%}\n")
	const n = 100_000
	got := 0
	for i := range n {
		if d := decide(pol, time.Duration(i), link("a", "b"), plain()); len(d.Copies) == 1 {
			got++
		}
	}
	if sd := math.Sqrt(n * 0.01 * 0.99); !within(float64(got), n*0.01, 5*sd) {
		t.Errorf("got %d corrupted of %d, want %v ± %.0f", got, n, n*0.01, 5*sd)
	}
}

func TestCorruptNoPayload(t *testing.T) {
	// skip: transport on a frame without payload has nothing to corrupt.
	pol := mustParse(t, "rules:\n  - {name: c, corrupt: {probability: 100%, skip: transport}}\n")
	f := udpFrame(macA, macB, ipA, ipB, 1, 2, nil)
	if d := decide(pol, 0, link("a", "b"), f); len(d.Copies) != 0 {
		t.Errorf("got %+v, want the frame untouched", d)
	}
}

// departure is when the i-th frame a rate limiter queued, decided at now
// (d), leaves; it fails the test when the frame was dropped or leaves
// before last, the frame before it's departure.
func departure(t *testing.T, i int, now time.Duration, d *hub.Decision, last time.Duration) time.Duration {
	t.Helper()
	if d.Drop {
		t.Fatalf("frame %d dropped: %v", i, d.Notes)
	}
	dep := now
	if len(d.Copies) == 1 {
		dep += d.Copies[0].Delay
	}
	if dep < last {
		t.Fatalf("frame %d departs at %v, before the previous one at %v", i, dep, last)
	}
	return dep
}

func TestRateThroughput(t *testing.T) {
	// Offer 20 Mbit/s (1250-byte frames every 0.5ms) for 2s to a 10 Mbit/s
	// limiter with a queue large enough for all: every frame leaves, one
	// per millisecond after the burst, so the output rate is 10 Mbit/s.
	pol := mustParse(t, "rules:\n  - {name: r, rate: {rate: 10Mbit, burst: 1250B, queue: 64MiB}}\n")
	f := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 1250-42))
	const n = 4000
	var last time.Duration
	for i := range n {
		now := time.Duration(i) * 500 * time.Microsecond
		d := decide(pol, now, link("a", "b"), f)
		last = departure(t, i, now, &d, last)
	}
	// n frames, the first free: the last leaves at (n-1) ms.
	if want := time.Duration(n-1) * time.Millisecond; last != want {
		t.Errorf("got last departure %v, want %v", last, want)
	}
	bps := float64(n*1250*8) / (last + time.Millisecond).Seconds()
	if !within(bps, 10e6, 10e6*0.001) {
		t.Errorf("got %.0f bit/s, want 10 Mbit/s", bps)
	}
	if st := pol.Stats().Rules[0]; st.Queued != n-1 || st.Overflowed != 0 {
		t.Errorf("got counters %+v, want %d queued, 0 overflowed", st, n-1)
	}
}

// TestRateHighRates: at high rates a frame costs a few ns or less (0.512ns
// for 64 bytes at 1Tbit), so the limiter must not round each frame's cost.
// Frames of mixed sizes offered at twice the rate on a virtual clock, with
// a queue that holds them all, leave backlogged: the last leaves when the
// bits past the burst have gone out at exactly the rate, to the ns.
func TestRateHighRates(t *testing.T) {
	sizes := [...]int{64, 65, 1514, 64, 100, 64, 9000, 64}
	const n = 20000
	for _, tc := range []struct {
		rate string
		bps  uint64
	}{{"10Gbit", 10e9}, {"100Gbit", 100e9}, {"1Tbit", 1e12}} {
		t.Run(tc.rate, func(t *testing.T) {
			const burst = 64
			pol := mustParse(t, "rules:\n  - {name: r, rate: {rate: "+tc.rate+", burst: 64B, queue: 64MiB}}\n")
			var frames [len(sizes)][]byte
			for i, sz := range sizes {
				frames[i] = make([]byte, sz)
			}
			var sent uint64 // bytes offered so far
			var last time.Duration
			var d hub.Decision
			for i := range n {
				f := frames[i%len(frames)]
				// Offered at twice the rate: frame i arrives when the bytes
				// before it would have left at 2x.
				now := time.Duration(sent * 8 * 1e9 / (2 * tc.bps))
				sent += uint64(len(f))
				d.Reset()
				pol.Decide(now, link("a", "b"), f, &d)
				last = departure(t, i, now, &d, last)
			}
			// The last departure is when all but the burst has gone out at
			// the rate, rounded up to the ns.
			bits := (sent - burst) * 8 * 1e9
			want := time.Duration((bits + tc.bps - 1) / tc.bps)
			if last != want {
				t.Errorf("got last departure %v, want %v", last, want)
			}
			got := float64(sent-burst) * 8 / last.Seconds()
			if !within(got, float64(tc.bps), float64(tc.bps)*1e-5) {
				t.Errorf("got %.6g bit/s, want %s within 10ppm", got, tc.rate)
			}
			// Carrying the remainder allocates nothing.
			if allocs := decideAllocs(pol, last, time.Nanosecond, frames[0], &d); allocs != 0 {
				t.Errorf("got %v allocations per rate-limited Decide, want 0", allocs)
			}
		})
	}
}

func TestRateOverflow(t *testing.T) {
	// 100 frames of 1250 bytes at once into 10 Mbit/s, burst 2500B, queue
	// 10000B: a frame may wait at most 8ms. Frame k waits (k-1)ms, so
	// frames 0..9 pass and the other 90 overflow.
	pol := mustParse(t, "rules:\n  - {name: r, rate: {rate: 10Mbit, burst: 2500B, queue: 10000B}}\n")
	f := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 1250-42))
	passed := 0
	for range 100 {
		d := decide(pol, 0, link("a", "b"), f)
		if !d.Drop {
			passed++
			continue
		}
		if d.Notes[0].Action != "overflow" {
			t.Fatalf("got notes %v, want overflow", d.Notes)
		}
	}
	if passed != 10 {
		t.Errorf("got %d frames through, want 10", passed)
	}
	if st := pol.Stats().Rules[0]; st.Overflowed != 90 || st.Queued != 8 {
		t.Errorf("got counters %+v, want 90 overflowed, 8 queued", st)
	}
	// After the queue drains, a frame passes at once again.
	if d := decide(pol, time.Second, link("a", "b"), f); d.Drop || len(d.Copies) != 0 {
		t.Errorf("got %+v after the queue drained, want an immediate copy", d)
	}
}

func TestMTU(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: m, mtu: 1400}\n")
	for _, l3 := range []int{100, 1400, 1401, 1500} {
		f := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, l3-28))
		d := decide(pol, 0, link("a", "b"), f)
		if want := l3 > 1400; d.Drop != want {
			t.Errorf("L3 size %d: got drop %v, want %v", l3, d.Drop, want)
		}
		if d.Drop && (d.Notes[0].Action != "mtu" || d.Notes[0].DetailText() != "len="+formatUint(uint64(l3))+" mtu=1400") {
			t.Errorf("L3 size %d: got note %v", l3, d.Notes[0])
		}
	}
}

func TestDropWindows(t *testing.T) {
	tests := []struct {
		name, match string
		want        []int // frame numbers (from 1) dropped among 1..12
	}{
		{"first-3", "first: 3", []int{1, 2, 3}},
		{"matches-4-6", "matches: 4-6", []int{4, 5, 6}},
		{"matches-10-open", "matches: 10-", []int{10, 11, 12}},
		{"matches-open-below", "matches: -3", []int{1, 2, 3}}, // POLICY.md's "-100"
		{"matches-open-below-quoted", "matches: \" -2\"", []int{1, 2}},
		{"matches-exact", "matches: 5", []int{5}},
		{"matches-open-below-every", "matches: -9, every: 3", []int{3, 6, 9}},
		{"every-4", "every: 4", []int{4, 8, 12}},
		{"during", "during: 2s-5s", []int{3, 4, 5}}, // frame k at (k-1) s
		// The shortest ranges there are: one match number, one millisecond.
		{"matches-one-number-range", "matches: 5-5", []int{5}},
		{"during-one-millisecond", "during: 4s-4001ms", []int{5}},
		{"first-2-every-1", "first: 2, every: 1", []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := mustParse(t, "rules:\n  - {name: w, match: {"+tt.match+"}, drop: true}\n")
			var got []int
			for k := 1; k <= 12; k++ {
				if decide(pol, time.Duration(k-1)*time.Second, link("a", "b"), plain()).Drop {
					got = append(got, k)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got drops %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWindowPerLink(t *testing.T) {
	// "first 3" counts per (rule, link): a flood to b and c drops three on each.
	pol := mustParse(t, "rules:\n  - {name: w, match: {from: a, first: 3}, drop: true}\n")
	drops := map[string]int{}
	for range 10 {
		for _, to := range []string{"b", "c"} {
			if decide(pol, 0, link("a", to), announce()).Drop {
				drops[to]++
			}
		}
	}
	if drops["b"] != 3 || drops["c"] != 3 {
		t.Errorf("got drops %v, want 3 on each link", drops)
	}
	if st := pol.Stats().Rules[0]; st.Matched != 6 {
		t.Errorf("got matched %d, want 6", st.Matched)
	}
}

func TestRuleOrder(t *testing.T) {
	// Rules run in file order; a drop stops the rest, so the later rule
	// neither matches nor counts the frame. Delays from two rules add up.
	pol := mustParse(t, `rules:
  - {name: first, match: {first: 1}, drop: true}
  - {name: d1, delay: 10ms}
  - {name: d2, delay: 5ms}
`)
	if d := decide(pol, 0, link("a", "b"), plain()); !d.Drop {
		t.Fatalf("frame 1: got %+v, want drop", d)
	}
	d := decide(pol, time.Second, link("a", "b"), plain())
	if len(d.Copies) != 1 || d.Copies[0].Delay != 15*time.Millisecond || len(d.Copies[0].Notes) != 2 {
		t.Fatalf("frame 2: got %+v, want one copy delayed 15ms with two notes", d)
	}
	st := pol.Stats()
	if st.Rules[1].Matched != 1 || st.Rules[2].Matched != 1 {
		t.Errorf("got counters %+v, want later rules matched once", st.Rules)
	}
}

func TestDuplicateThenCorruptAndDelay(t *testing.T) {
	// As in netem, each copy gets its own corruption and delay draws.
	pol := mustParse(t, `rules:
  - name: all
    duplicate: {probability: 100%, copies: 3}
    corrupt: 100%
    delay: {fixed: 10ms, jitter: 5ms, order: reorder}
`)
	d := decide(pol, 0, link("a", "b"), plain())
	if len(d.Copies) != 4 {
		t.Fatalf("got %d copies, want 4", len(d.Copies))
	}
	seen := map[time.Duration]bool{}
	for i, c := range d.Copies {
		if c.Frame == nil {
			t.Errorf("copy %d not corrupted", i)
		}
		seen[c.Delay] = true
		for j := range i {
			if &c.Frame[0] == &d.Copies[j].Frame[0] {
				t.Errorf("copies %d and %d share bytes", i, j)
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("got delays %v, want independent draws", seen)
	}
}

func TestPartitionSchedule(t *testing.T) {
	pol := mustLoad(t, "done-when.yaml")
	checkLinksAt(t, pol, "partitioned", func(d hub.Decision) bool {
		return d.Drop && len(d.Notes) == 1 && d.Notes[0].Action == "partition"
	}, []linkAt{
		{4999 * time.Millisecond, "b", "a", false},
		{5 * time.Second, "b", "a", true},
		{5 * time.Second, "a", "b", true},
		{6 * time.Second, "a", "c", false},
		{7999 * time.Millisecond, "b", "a", true},
		{8 * time.Second, "b", "a", false},
	})
	if st := pol.Stats().Partitions[0]; st.Dropped != 3 || st.Active {
		t.Errorf("got %+v, want 3 dropped, inactive", st)
	}
}

func TestPartitionControl(t *testing.T) {
	pol := mustParse(t, "partitions:\n  - {name: p, groups: a|b, start: 5s, end: 8s}\n")
	blocked := func(at time.Duration) bool { return decide(pol, at, link("a", "b"), plain()).Drop }
	if err := pol.StartPartition(time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if !blocked(2 * time.Second) {
		t.Error("after StartPartition at 1s: not blocked at 2s")
	}
	if err := pol.HealPartition(3*time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if blocked(4 * time.Second) {
		t.Error("after HealPartition at 3s: blocked at 4s")
	}
	if !blocked(5 * time.Second) {
		t.Error("the schedule's start at 5s did not take over")
	}
	if err := pol.HealPartition(6*time.Second, "p"); err != nil || blocked(6*time.Second) {
		t.Errorf("heal at 6s: err %v, still blocked", err)
	}
	if err := pol.StartPartition(0, "nope"); !errorsIs(err, ErrUnknownPartition) {
		t.Errorf("StartPartition(nope) = %v, want ErrUnknownPartition", err)
	}
	name, err := pol.AddPartition(7*time.Second, "", [][]string{{"a", "b"}, {"c"}})
	if err != nil || name != "a,b|c" {
		t.Fatalf("AddPartition = %q, %v", name, err)
	}
	if d := decide(pol, 7*time.Second, link("c", "a"), plain()); !d.Drop || d.Notes[0].Rule != "a,b|c" {
		t.Errorf("c->a under ad-hoc partition: got %+v", d)
	}
	if _, err := pol.AddPartition(7*time.Second, "a,b|c", [][]string{{"a"}, {"c"}}); err == nil {
		t.Error("AddPartition reusing a name with other groups: no error")
	}
	if got, err := pol.AddPartition(7*time.Second, "a,b|c", [][]string{{"c"}, {"b", "a"}}); err != nil || got != "a,b|c" {
		t.Errorf("AddPartition reusing a name with the same groups in another order = %q, %v; want the same partition", got, err)
	}
	if _, err := pol.AddPartition(7*time.Second, "x", [][]string{{"a"}, {"zz"}}); err == nil {
		t.Error("AddPartition with an unknown port: no error")
	}
	if _, err := pol.AddPartition(7*time.Second, "dup", [][]string{{"a"}, {"a"}}); err == nil || !strings.Contains(err.Error(), `"dup"`) {
		t.Errorf("AddPartition(dup, a|a) = %v, want an error naming the partition", err)
	}
	pol.HealAll(9 * time.Second)
	if d := decide(pol, 9*time.Second, link("c", "a"), plain()); d.Drop {
		t.Errorf("after HealAll: got %+v", d)
	}
}

func TestPartitionTrigger(t *testing.T) {
	pol := mustLoad(t, "partition.yaml")
	hello := udpFrame(macA, macB, ipA, ipB, 1, 2, []byte("hello"))
	at := time.Duration(0)
	for i := 1; i <= 10; i++ {
		at = time.Duration(i) * 10 * time.Millisecond
		if d := decide(pol, at, link("a", "c"), hello); d.Drop {
			t.Fatalf("hello %d dropped: %v", i, d.Notes)
		}
		// Matches on another link do not count towards the a->c trigger.
		decide(pol, at, link("b", "c"), hello)
	}
	if d := decide(pol, at+time.Millisecond, link("c", "a"), plain()); !d.Drop || d.Notes[0].Rule != "after-hello" {
		t.Fatalf("after 10 hellos: got %+v, want partition after-hello", d)
	}
	if d := decide(pol, at+time.Second, link("c", "a"), plain()); d.Drop {
		t.Errorf("1s after the trigger: got %+v, want healed", d)
	}
	// west-c: [a, b] | c from 2s to 5s.
	if d := decide(pol, 3*time.Second, link("b", "c"), plain()); !d.Drop || d.Notes[0].Rule != "west-c" {
		t.Errorf("b->c at 3s: got %+v, want partition west-c", d)
	}
	if d := decide(pol, 3*time.Second, link("a", "b"), plain()); d.Drop {
		t.Errorf("a->b at 3s: got %+v, want through (same group)", d)
	}
}

func TestLinkFlap(t *testing.T) {
	pol := mustLoad(t, "flap.yaml")
	checkLinksAt(t, pol, "down", func(d hub.Decision) bool { return d.Drop && d.Notes[0].Action == "down" }, []linkAt{
		{999 * time.Millisecond, "a", "b", false},
		{time.Second, "a", "b", true},
		{1199 * time.Millisecond, "b", "a", true},
		{1200 * time.Millisecond, "a", "b", false},
		{1100 * time.Millisecond, "a", "c", false},
		{3100 * time.Millisecond, "a", "b", true},
		{9100 * time.Millisecond, "a", "b", true}, // fifth flap
		{11100 * time.Millisecond, "a", "b", false},
		{10 * time.Second, "a", "c", true},
		{time.Hour, "c", "b", true},
	})
	// The control API overrides the schedule until its next transition.
	if err := pol.SetLink(2*time.Hour, "c", true); err != nil {
		t.Fatal(err)
	}
	if d := decide(pol, 2*time.Hour, link("a", "c"), plain()); d.Drop {
		t.Errorf("after SetLink(c, up): got %+v", d)
	}
	if err := pol.SetLink(0, "zz", false); !errorsIs(err, hub.ErrNoPort) {
		t.Errorf("SetLink(zz) = %v, want hub.ErrNoPort", err)
	}
	if err := pol.SetLink(2*time.Hour, "a", false); err != nil {
		t.Fatal(err)
	}
	if d := decide(pol, 2*time.Hour, link("b", "a"), plain()); !d.Drop || d.Notes[0].Rule != "" {
		t.Errorf("after SetLink(a, down): got %+v, want a down note without rule", d)
	}
	desc := pol.Describe(2 * time.Hour)
	for _, p := range desc.Ports {
		if want := p.Port == "a"; p.Down != want {
			t.Errorf("Describe port %s down %v, want %v", p.Port, p.Down, want)
		}
	}
}

// TestAdHocPartitionsAreBounded: the control API cannot grow a policy's
// partitions without bound; the refusal says how to go on, and starting an
// existing partition again needs no new place.
func TestAdHocPartitionsAreBounded(t *testing.T) {
	pol := mustLoad(t, "partition.yaml")
	var full error
	for i := 0; full == nil; i++ {
		if i > 2*maxPartitions {
			t.Fatalf("added %d partitions without a refusal", i)
		}
		name := fmt.Sprintf("p%d", i)
		if _, full = pol.AddPartition(time.Second, name, [][]string{{"a"}, {"b"}}); full == nil {
			if err := pol.HealPartition(time.Second, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !strings.Contains(full.Error(), "set-policy") || !strings.Contains(full.Error(), "again by its name") {
		t.Errorf("refusal %q does not say how to go on", full)
	}
	if _, err := pol.AddPartition(2*time.Second, "p0", [][]string{{"a"}, {"b"}}); err != nil {
		t.Errorf("starting the healed p0 again: %v", err)
	}
}
