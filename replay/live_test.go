package replay

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport"
)

// livePolicy exercises every kind of decision that could make a replay
// differ from the run: random draws (loss, bursts, jitter, duplication,
// corruption), per-link order state (FIFO delay), time itself (a token
// bucket, a time window, a timed partition).
const livePolicy = `seed: 1234
rules:
  - {name: loss-a-b, match: {link: a->b}, loss: 10%}
  - {name: bursts-b-a, match: {link: b->a}, loss: {gemodel: {p: 3%, r: 30%}}}
  - {name: jitter-a-b, match: {link: a->b}, delay: 2ms±1ms}
  - {name: dup, match: {protocol: udp}, duplicate: 5%}
  - {name: flip-b-a, match: {link: b->a}, corrupt: {probability: 5%, bits: 3, skip: transport}}
  - {name: bottleneck-b-a, match: {link: b->a}, rate: {rate: 20Mbit, burst: 3000B, queue: 16KiB}}
  - {name: window, match: {link: a->b, during: 200ms-260ms}, drop: true}
partitions:
  - {name: split, groups: a|b, start: 100ms, end: 150ms}
`

// lateSink lets a capture be opened once the hub's start time is known
// (Meta.Start = Core.Start) and still be one of the hub's observers.
type lateSink struct{ s atomic.Pointer[capture.Sink] }

func (l *lateSink) Observe(ev *hub.Event) {
	if s := l.s.Load(); s != nil {
		s.Observe(ev)
	}
}

func (l *lateSink) PortAdded(p hub.PortInfo) {
	if s := l.s.Load(); s != nil {
		s.PortAdded(p)
	}
}

// decisions records what the hub decided for every ingress frame and what
// it delivered to each port. Observers run on the hub loop; read it there
// (Hub.Do) or after the loop has stopped.
type decisions struct {
	ingress   []string
	verdicts  []string // drop/deliver per link, without the notes' text
	delivered map[string][]uint64
}

func newDecisions() *decisions { return &decisions{delivered: map[string][]uint64{}} }

func (d *decisions) Observe(ev *hub.Event) {
	if ev.Dir == hub.Egress {
		if !ev.Dropped {
			d.delivered[ev.PortName] = append(d.delivered[ev.PortName], hash64(ev.Frame))
		}
		return
	}
	d.ingress = append(d.ingress, fmt.Sprintf("%s %016x dropped=%v %s", ev.PortName, hash64(ev.Frame), ev.Dropped, hub.FormatNotes(ev.Notes)))
	v := fmt.Sprintf("%s %016x", ev.PortName, hash64(ev.Frame))
	for _, n := range ev.Notes {
		v += " " + n.Link + ":" + n.Rule + ":" + n.Action
	}
	d.verdicts = append(d.verdicts, v)
}

// monoFreeClock reads the wall clock without a monotonic reading, so that
// the policy measures time with the very numbers the capture records.
type monoFreeClock struct{ wallclock.Clock }

func (monoFreeClock) Now() time.Time { return wallclock.Clock{}.Now().Round(0) }

// TestReplayReproducesLiveRun is the README's D3: run a real hub on loopback
// sockets with a lossy seeded policy and an ingress capture, then replay the
// capture with the same policy and seed and compare every decision.
func TestReplayReproducesLiveRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock hub.Clock
		// exactNotes: the notes' text (draws, waits, FIFO holds) must match
		// too. With the wall clock's monotonic reading the live policy
		// measures time on another clock than the capture records, so
		// durations in notes may differ by the few nanoseconds between the
		// two clock reads; the decisions themselves must still match.
		exactNotes bool
	}{
		{"wallclock", wallclock.Clock{}, false},
		{"wall-time-without-monotonic", monoFreeClock{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live.pcapng")
			live := runLive(t, tc.clock, path, 1500)

			r, err := Open(Config{Inputs: []Input{{Path: path}}})
			if err != nil {
				t.Fatal(err)
			}
			meta, ok := r.Meta()
			if !ok || meta.Seed != 1234 {
				t.Fatalf("capture meta = %+v, %v; want seed 1234", meta, ok)
			}
			rep := newDecisions()
			res, err := r.Run(context.Background(), RunConfig{
				Policy:    mustPolicy(t, livePolicy, r.Ports()),
				Mode:      hub.ModeSwitch,
				Observers: []hub.Observer{rep},
			})
			if err != nil || res.Err() != nil {
				t.Fatalf("Run: %v, %v", err, res.Err())
			}
			if len(live.ingress) != 3000 || len(rep.ingress) != len(live.ingress) {
				t.Fatalf("got %d live and %d replayed ingress frames, want 3000 each", len(live.ingress), len(rep.ingress))
			}
			if i, ok := firstMismatch(live.verdicts, rep.verdicts); !ok {
				t.Fatalf("frame %d: live decided\n  %s\nreplay decided\n  %s", i+1, live.ingress[i], rep.ingress[i])
			}
			if i, ok := firstMismatch(live.ingress, rep.ingress); !ok {
				msg := fmt.Sprintf("frame %d: notes differ:\n  live   %s\n  replay %s", i+1, live.ingress[i], rep.ingress[i])
				if tc.exactNotes {
					t.Fatal(msg)
				}
				t.Log(msg)
			}
			for _, port := range []string{"a", "b"} {
				l, p := sorted(live.delivered[port]), sorted(rep.delivered[port])
				if !slices.Equal(l, p) {
					t.Errorf("port %s: live delivered %d frames, replay %d; the multisets differ", port, len(l), len(p))
				}
			}
			var drops, acts int
			for _, v := range live.ingress {
				if len(v) > 0 && v[len(v)-1] != ' ' {
					acts++
				}
			}
			for _, p := range res.Ports {
				drops += int(p.Stats.Drops["policy"])
			}
			if drops == 0 || acts < 100 {
				t.Errorf("the policy dropped %d and acted on %d frames; the test needs it to act", drops, acts)
			}
		})
	}
}

func firstMismatch(a, b []string) (int, bool) {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i, false
		}
	}
	return 0, len(a) == len(b)
}

func sorted(s []uint64) []uint64 { s = slices.Clone(s); slices.Sort(s); return s }

// runLive runs a two-port hub on loopback TCP with the live policy and an
// ingress+egress capture at path, has each VM send n frames, and returns the
// hub's decisions once everything has been delivered.
func runLive(t *testing.T, clock hub.Clock, path string, n int) *decisions {
	t.Helper()
	pol := mustPolicy(t, livePolicy, []string{"a", "b"})
	late := &lateSink{}
	rec := newDecisions()
	h, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: clock, Policy: pol, Observers: []hub.Observer{rec, late}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { h.Run(ctx) })

	var start time.Time
	if err := h.Do(ctx, func(c *hub.Core) { start = c.Start() }); err != nil {
		t.Fatal(err)
	}
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock,
		Meta: capture.Meta{Version: "test", Seed: pol.Seed(), Start: start}})
	if err != nil {
		t.Fatal(err)
	}
	late.s.Store(sink)

	vms := map[string]*transport.StreamConn{}
	for _, name := range []string{"a", "b"} {
		spec, err := transport.ParseSpec(name + "=tcp:127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		run, err := spec.Open(transport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		bound := run.Spec()
		if err := h.AddPort(name, string(bound.Transport)+" "+bound.Address); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { run.Run(ctx, h) })
		vm, err := transport.DialStream(ctx, "tcp", bound.Address, 0)
		if err != nil {
			t.Fatal(err)
		}
		vms[name] = vm
	}
	waitFor(t, "both VMs attached", func() bool {
		ports, _ := h.Ports(ctx)
		return len(ports) == 2 && ports[0].Attached && ports[1].Attached
	})

	var mu sync.Mutex
	got := map[string]int{}
	var readers sync.WaitGroup
	for name, vm := range vms {
		readers.Go(func() {
			buf := make([]byte, transport.DefaultMaxFrame)
			for {
				if _, err := vm.ReadFrame(buf); err != nil {
					return
				}
				mu.Lock()
				got[name]++
				mu.Unlock()
			}
		})
	}
	var senders sync.WaitGroup
	for name, vm := range vms {
		senders.Go(func() {
			src, dst, sip, dip := macA, macB, ipA, ipB
			if name == "b" {
				src, dst, sip, dip = macB, macA, ipB, ipA
			}
			for i := range n {
				f := udpFrame(t, src, dst, sip, dip, 5000, 6000, uint16(i), fmt.Sprintf("%s-%05d", name, i))
				if i%25 == 0 {
					f = udpFrame(t, src, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, sip, net.IPv4bcast, 5000, 6000, uint16(i), fmt.Sprintf("%s-%05d", name, i))
				}
				if err := vm.WriteFrame(f); err != nil {
					t.Errorf("VM %s: write frame %d: %v", name, i, err)
					return
				}
				if i%20 == 19 {
					time.Sleep(4 * time.Millisecond) // spread the run over the policy's time windows
				}
			}
		})
	}
	senders.Wait()

	// Wait until the hub has taken every frame in, delivered every delayed
	// one, and each VM has read what the hub delivered to it.
	want := map[string]int{}
	waitFor(t, "every frame forwarded and read", func() bool {
		var ingress, pending int
		h.Do(ctx, func(c *hub.Core) {
			ingress, pending = len(rec.ingress), c.Pending()
			for port, d := range rec.delivered {
				want[port] = len(d)
			}
		})
		mu.Lock()
		defer mu.Unlock()
		return ingress == 2*n && pending == 0 && got["a"] == want["a"] && got["b"] == want["b"]
	})
	cancel()
	wg.Wait()
	for _, vm := range vms {
		vm.Close()
	}
	readers.Wait()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.QueueFull != 0 {
		t.Fatalf("the capture dropped %d events", st.QueueFull)
	}
	return rec
}

// waitFor polls cond until it holds. The deadline is a hang guard, not a
// bound on how fast anything must be: a loaded machine may take long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
