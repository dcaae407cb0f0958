package loadgentest

import (
	"sync"
	"testing"
	"time"

	"l2hub/loadgen"
	"l2hub/transport"
)

// Windowed is a benchmark body: it sends b.N frames from src to dst, at
// most window in flight (so nothing is dropped), and times their delivery.
// A watchdog closes both ends if a frame goes missing for a minute. Besides
// ns/op it reports cpu-ns/op: the whole process's CPU time per frame, which
// on a shared machine moves much less than the wall clock.
func Windowed(b *testing.B, src, dst loadgen.VM, frame []byte, window int) {
	credit := make(chan struct{}, window)
	for range window {
		credit <- struct{}{}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	cpu0 := loadgen.CPUTime()
	go func() {
		defer wg.Done()
		for range b.N {
			<-credit
			if err := src.WriteFrame(frame); err != nil {
				return
			}
		}
	}()
	watchdog := time.AfterFunc(time.Minute, func() { dst.Close(); src.Close() })
	defer watchdog.Stop()
	buf := make([]byte, transport.DefaultMaxFrame)
	for i := range b.N {
		if _, err := dst.ReadFrame(buf); err != nil {
			b.Fatalf("frame %d of %d: %v", i, b.N, err)
		}
		credit <- struct{}{}
	}
	b.StopTimer()
	wg.Wait()
	b.ReportMetric(float64(loadgen.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
