package checker

import (
	"testing"
	"time"

	"l2hub/conformance"
)

// BenchmarkCheckRun checks a whole healthy run per iteration: discovery,
// handshake (with its X25519 work), ladder and proxy.
func BenchmarkCheckRun(b *testing.B) {
	frames := healthy(b, 1460).frames
	var size int64
	for _, f := range frames {
		size += int64(len(f.Data))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c, _ := New(Options{})
		for _, f := range frames {
			c.Feed(f)
		}
		c.Report()
	}
	b.ReportMetric(float64(len(frames)*b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkFeedAnnounce is the steady-state cost of one announce.
func BenchmarkFeedAnnounce(b *testing.B) {
	bl := newBuilder(b)
	bl.announce(hostA, announceOf(b, conformance.RoleA))
	frames := bl.frames
	c, _ := New(Options{})
	b.SetBytes(int64(len(frames[0].Data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := frames[i%2]
		f.Time = f.Time.Add(time.Duration(i) * 64 * time.Millisecond)
		c.Feed(f)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkFeedRecords is the steady-state cost of proxy records: one
// request and one response per two frames, decrypted and judged.
func BenchmarkFeedRecords(b *testing.B) {
	bl := newBuilder(b)
	f := bl.flow(hostA, hostB, 40010, 34568)
	f.connect()
	s := newScript(b).handshake().ladder()
	s.play(f, 1460)
	setup := len(bl.frames)
	const pairs = 512
	for range pairs {
		s.msgs = s.msgs[:0]
		s.proxy()
		s.play(f, 1460)
	}
	frames := bl.frames
	c, _ := New(Options{})
	for _, fr := range frames[:setup] {
		c.Feed(fr)
	}
	steady := frames[setup:]
	var size int64
	for _, fr := range steady {
		size += int64(len(fr.Data))
	}
	b.SetBytes(size / int64(len(steady)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(steady) {
			b.StopTimer()
			c, _ = New(Options{})
			for _, fr := range frames[:setup] {
				c.Feed(fr)
			}
			i = 0
			b.StartTimer()
		}
		c.Feed(steady[i])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkObserve is what the hub loop pays per event.
func BenchmarkObserve(b *testing.B) {
	evs := events(healthy(b, 1460).frames)
	c, _ := New(Options{})
	defer c.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Observe(&evs[i%len(evs)])
		i++
	}
}

func BenchmarkParsePacket(b *testing.B) {
	data := healthy(b, 1460).frames[20].Data
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var p packet
	for b.Loop() {
		parsePacket(data, &p)
	}
}

func BenchmarkDedupe(b *testing.B) {
	frames := healthy(b, 1460).frames
	d := newDeduper()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := frames[i%len(frames)]
		d.duplicate(f.Data, i%2, f.Time, true)
		i++
	}
}
