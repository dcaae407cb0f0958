package transport

import (
	"math"
	"sync"
	"testing"
)

// TestKernelDropsReport: the kernel's 32-bit drop count arrives from two
// sources, a datagram's (as it was when it was queued) and the socket's (as
// it is); only a count ahead of the newest seen moves the total.
func TestKernelDropsReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reports []uint32
		want    uint64
	}{
		{"in-order", []uint32{0, 0, 3, 5}, 5},
		{"older-count-after-a-newer", []uint32{4, 9, 5, 0, 9, 10}, 10},
		{"counter-wraps", []uint32{math.MaxInt32, math.MaxUint32 - 1, 3}, math.MaxUint32 + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k kernelDrops
			for _, v := range tc.reports {
				k.report(v)
			}
			if got := k.total.Load(); got != tc.want {
				t.Errorf("got total after reports %v = %d, want %d", tc.reports, got, tc.want)
			}
		})
	}
}

// TestKernelDropsReportConcurrent: the reader's reports and a KernelDrops
// call from another goroutine count each drop once.
func TestKernelDropsReportConcurrent(t *testing.T) {
	var k kernelDrops
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for v := range uint32(10000) {
				k.report(v + uint32(g)) // each goroutine a little behind or ahead
			}
		})
	}
	wg.Wait()
	if got, want := k.total.Load(), uint64(10000-1+3); got != want {
		t.Errorf("got total %d, want %d", got, want)
	}
}
