package capture

import (
	"bytes"
	"io"
	"testing"
	"time"

	"l2hub/hub"
)

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

func discardSink(tb testing.TB, format Format, overflow Overflow) *Sink {
	s := mustOpen(tb, Config{Path: "/mem/bench.pcapng", Format: format, Overflow: overflow, Meta: testMeta,
		Create: func(string) (io.WriteCloser, error) { return discard{}, nil }})
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "bench"})
	s.PortAdded(hub.PortInfo{ID: 1, Name: "b", Description: "bench"})
	return s
}

func benchEvents() []hub.Event {
	f := frame(1514, 1, 2, 0)
	notes := []hub.Note{{Link: "a->b", Rule: "slow", Action: "delay", Detail: "10ms"}}
	return []hub.Event{
		{Port: 0, PortName: "a", Dir: hub.Ingress, Frame: f},
		{Port: 1, PortName: "b", Dir: hub.Egress, Frame: f, Notes: notes},
	}
}

// BenchmarkObserve measures the hub-loop side: the copy into the queue.
// With OverflowBlock every frame is also encoded and written (to a discard
// writer) by the writer goroutine, so the figure includes it.
func BenchmarkObserve(b *testing.B) {
	for _, tc := range []struct {
		name     string
		format   Format
		overflow Overflow
	}{
		{"pcapng-block", FormatPcapng, OverflowBlock},
		{"pcap-block", FormatPcap, OverflowBlock},
		{"pcapng-drop", FormatPcapng, OverflowDrop},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := discardSink(b, tc.format, tc.overflow)
			evs := benchEvents()
			b.SetBytes(int64(len(evs[0].Frame)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				ev := &evs[i&1]
				ev.Time = t0.Add(time.Duration(i))
				s.Observe(ev)
			}
			b.StopTimer()
			mustClose(b, s)
		})
	}
}

// BenchmarkRead measures the pcapng reader over an in-memory capture.
func BenchmarkRead(b *testing.B) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(b, cfg)
	evs := benchEvents()
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	s.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
	for i := range 1000 {
		s.Observe(&evs[i&1])
	}
	mustClose(b, s)
	data := fs.file(b, cfg.Path)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range r.All() {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestObserveDoesNotAllocate pins the steady state: once the queue and batch
// buffers have grown, a frame costs no allocation on the hub loop or in the
// writer.
func TestObserveDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			s := discardSink(t, format, OverflowBlock)
			defer mustClose(t, s)
			evs := benchEvents()
			i := 0
			observe := func() {
				ev := &evs[i&1]
				ev.Time = t0.Add(time.Duration(i))
				s.Observe(ev)
				i++
			}
			for range 20000 { // grow the buffers
				observe()
			}
			if n := testing.AllocsPerRun(20000, observe); n > 0 {
				t.Errorf("got %v allocations per frame, want 0", n)
			}
		})
	}
}
