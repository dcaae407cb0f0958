package replay

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// passThrough has five rules that look at every frame and act on none.
var passThrough = func() string {
	b, err := os.ReadFile("../testdata/policies/pass-through-5.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// benchPolicy has five rules that look at every frame; two of them act on
// every frame: a 1% loss draw on a->b, and a 1ms delay (a timer, a note) on
// b->a.
const benchPolicy = `seed: 1
rules:
  - {name: r1, match: {link: a->b}, loss: 1%}
  - {name: r2, match: {protocol: tcp, tcp_flags: syn}, drop: true}
  - {name: r3, match: {dst_port: 53}, delay: 10ms}
  - {name: r4, match: {payload: NOPE}, corrupt: 1%}
  - {name: r5, match: {link: b->a}, delay: 1ms}
`

// benchCapture is an l2hub ingress capture of n UDP frames alternating
// between ports a and b, 10µs apart.
func benchCapture(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	cfg := memCapture(&buf, capture.Meta{Version: "bench", Start: hub.DefaultEpoch})
	cfg.Overflow = capture.OverflowBlock
	cfg.Points = capture.PointsIngress
	sink, err := capture.Open(*cfg)
	if err != nil {
		b.Fatal(err)
	}
	sink.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "bench"})
	sink.PortAdded(hub.PortInfo{ID: 1, Name: "b", Description: "bench"})
	fa := udpFrame(b, macA, macB, ipA, ipB, 5000, 6000, 1, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	fb := udpFrame(b, macB, macA, ipB, ipA, 6000, 5000, 1, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for i := range n {
		ev := hub.Event{Time: hub.DefaultEpoch.Add(time.Duration(i) * 10 * time.Microsecond), Port: 0, PortName: "a", Dir: hub.Ingress, Frame: fa}
		if i%2 == 1 {
			ev.Port, ev.PortName, ev.Frame = 1, "b", fb
		}
		sink.Observe(&ev)
	}
	if err := sink.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

type discardWC struct{}

func (discardWC) Write(p []byte) (int, error) { return len(p), nil }
func (discardWC) Close() error                { return nil }

// BenchmarkReplay measures replay throughput (frames/s) through a 5-rule
// policy: reading the capture, the core and policy, and writing both
// capture points to a discarding writer. cpu-ns/frame is the process's CPU
// time (every goroutine, the capture writer and the GC included) per frame:
// on a shared machine it says more than the wall-clock rate.
func BenchmarkReplay(b *testing.B) {
	const n = 200_000
	data := benchCapture(b, n)
	for _, tc := range []struct {
		name   string
		output bool
		policy string
	}{
		{"read-and-forward", false, ""},
		{"5-rules-pass-through", false, passThrough},
		{"5-rules-pass-through-with-capture", true, passThrough},
		{"5-rules-acting", false, benchPolicy},
		{"5-rules-acting-with-capture", true, benchPolicy},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var frames int
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				r, err := Open(Config{Inputs: []Input{memInput("bench.pcapng", data)}})
				if err != nil {
					b.Fatal(err)
				}
				rc := RunConfig{Mode: hub.ModeSwitch}
				if tc.policy != "" {
					rc.Policy = mustPolicy(b, tc.policy, nil)
				}
				if tc.output {
					rc.Capture = &capture.Config{Path: "/mem/out.pcapng", Create: func(string) (io.WriteCloser, error) { return discardWC{}, nil }}
				}
				res, err := r.Run(context.Background(), rc)
				if err != nil || res.Replayed != n {
					b.Fatalf("Run: %v, %d frames replayed", err, res.Replayed)
				}
				frames += res.Replayed
			}
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
			if cpu1, ok := cpuTime(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(frames), "cpu-ns/frame")
			}
		})
	}
}
