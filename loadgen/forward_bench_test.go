package loadgen

import (
	"fmt"
	"io"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

// The forwarding path as the live hub runs it, minus the sockets: one
// frame into hub.Core, through the policy and the capture, onto egress
// queues. hub's own BenchmarkCoreUnicast covers the core alone.

type discardFile struct{}

func (discardFile) Write(p []byte) (int, error) { return len(p), nil }
func (discardFile) Close() error                { return nil }

// newForwardCore builds a core with ports VMs, the policy in YAML (none
// when empty) and, if capt, a pcapng capture to a discarding writer.
func newForwardCore(tb testing.TB, ports int, policy string, capt bool) (*hub.Core, []hub.PortID, *hub.VirtualClock, func()) {
	tb.Helper()
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	cfg := hub.CoreConfig{Mode: hub.ModeSwitch, Clock: clock}
	names := make([]string, ports)
	for i := range names {
		names[i] = fmt.Sprintf("vm%02d", i)
	}
	if policy != "" {
		p, err := filter.Parse([]byte(policy), "bench", names)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Policy = p
	}
	closeSink := func() {}
	if capt {
		sink, err := capture.Open(capture.Config{Path: "/mem/bench.pcapng", Overflow: capture.OverflowBlock,
			Create: func(string) (io.WriteCloser, error) { return discardFile{}, nil }})
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Observers = []hub.Observer{sink}
		closeSink = func() { sink.Close() }
	}
	c := hub.NewCore(cfg)
	ids := make([]hub.PortID, ports)
	for i, name := range names {
		var err error
		if ids[i], err = c.AddPort(name, "bench", hub.Discard{}); err != nil {
			tb.Fatal(err)
		}
	}
	// Every VM says hello once, so the switch knows every MAC.
	for i, id := range ids {
		f := make([]byte, HeaderLen)
		putHeader(f, BroadcastMAC, i, kindHello)
		c.Ingress(id, hub.FrameOf(f))
	}
	return c, ids, clock, closeSink
}

func BenchmarkForward(b *testing.B) {
	for _, pat := range []Pattern{Unicast, Broadcast} {
		for _, ports := range []int{2, 32} {
			for _, size := range []int{64, 1500} {
				for _, v := range []struct {
					name            string
					policy, capture bool
				}{{"plain", false, false}, {"policy", true, false}, {"policy+capture", true, true}} {
					b.Run(fmt.Sprintf("%s/%dp/%dB/%s", pat, ports, size, v.name), func(b *testing.B) {
						pol := ""
						if v.policy {
							pol = PassThroughPolicy
						}
						c, ids, clock, done := newForwardCore(b, ports, pol, v.capture)
						defer done()
						dst := MAC(1)
						if pat == Broadcast {
							dst = BroadcastMAC
						}
						frame := make([]byte, size)
						putHeader(frame, dst, 0, kindData)
						b.ReportAllocs()
						b.SetBytes(int64(size))
						for i := 0; b.Loop(); i++ {
							clock.Advance(time.Microsecond)
							f := hub.NewFrame(size)
							copy(f.Bytes(), frame)
							c.Ingress(ids[0], f)
						}
					})
				}
			}
		}
	}
}

// TestForwardWithPolicyAndCaptureDoesNotAllocate extends hub's zero-alloc
// pin to the live configuration: the pass-through policy and a capture.
func TestForwardWithPolicyAndCaptureDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	testForwardDoesNotAllocate(t, PassThroughPolicy, "with policy and capture")
}

// actingPolicy acts on most frames from vm00 to vm01, in every way a note
// records: drops (loss), delays with jitter (timers that hold notes),
// duplicates, single-bit corruption and a rate limit's queue.
const actingPolicy = `seed: 7
rules:
  - {name: lossy, match: {link: vm00->vm01}, loss: 20%}
  - {name: twice, match: {link: vm00->vm01}, duplicate: 20%}
  - {name: flip, match: {link: vm00->vm01}, corrupt: {probability: 10%, bits: 1}}
  - {name: slow, match: {link: vm00->vm01}, delay: {fixed: 1ms, jitter: 200us}}
  - {name: narrow, match: {link: vm00->vm01}, rate: {rate: 100mbit, burst: 1500, queue: 64KiB}}
`

// TestForwardWithActingRulesDoesNotAllocate: a frame a rule drops, delays,
// duplicates, corrupts or queues costs no allocation either: notes are
// formatted only when the capture reads them, into its own buffers.
func TestForwardWithActingRulesDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := testForwardDoesNotAllocate(t, actingPolicy, "with rules acting on it and capture")
	if dropped, waiting := c.Stats(1).Drops(hub.DropPolicy), c.Pending(); dropped == 0 || waiting == 0 {
		t.Errorf("%d frames dropped and %d delayed: the rules did not act", dropped, waiting)
	}
}

func testForwardDoesNotAllocate(t *testing.T, policy, what string) *hub.Core {
	c, ids, clock, done := newForwardCore(t, 4, policy, true)
	defer done()
	frame := make([]byte, 64)
	putHeader(frame, MAC(1), 0, kindData)
	// A step forwards 16 frames: AllocsPerRun rounds down, and an
	// allocation for only some frames (the ones a rule delays, say) must
	// still show.
	const perStep = 16
	step := func() {
		for range perStep {
			clock.Advance(time.Microsecond)
			f := hub.NewFrame(len(frame))
			copy(f.Bytes(), frame)
			c.Ingress(ids[0], f)
		}
	}
	for range 2000 { // grow the capture's and the core's buffers
		step()
	}
	if n := testing.AllocsPerRun(2000, step); n != 0 {
		t.Errorf("got %v allocations per %d forwarded unicast frames %s, want 0", n, perStep, what)
	}
	return c
}

// BenchmarkHistogramRecord is the receivers' per-frame cost of latency
// bookkeeping.
func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i*7919) % time.Millisecond)
	}
}
