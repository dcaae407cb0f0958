package loadgen

import (
	"context"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
)

// TestOverloadKeepsMemoryBounded stops every receiver while the senders go
// on, and the resident set must not follow the offered load. By default the
// hub pauses the senders (their sockets fill and they wait: nothing is
// lost); with overflow: drop it tail-drops at the egress queues. The bound is
// deliberately generous; the figures are what `l2hub bench` reports.
func TestOverloadKeepsMemoryBounded(t *testing.T) {
	if _, err := RSS(); err != nil {
		t.Skipf("no resident set size here: %v", err)
	}
	for _, overflow := range []hub.Overflow{hub.OverflowPause, hub.OverflowDrop} {
		t.Run(overflow.String(), func(t *testing.T) { testOverload(t, overflow) })
	}
}

func testOverload(t *testing.T, overflow hub.Overflow) {
	// A short egress queue (32 frames a port) overflows within the second
	// even when a loaded machine under the race detector sends only a few
	// thousand frames; what is measured is that memory stays flat while it
	// does. The stall time is longer than the scenario: a pausing hub holds
	// its senders back throughout.
	target := &Hub{Mode: hub.ModeSwitch, Queue: 32, Overflow: overflow, Stall: time.Minute,
		Policy: true, Capture: true}
	// Jumbo frames fill the sockets' buffers (megabytes on loopback) fast
	// enough even under the race detector.
	sc := Scenario{Kind: "overload", Transport: "tcp", Size: 9000, Ports: 4, Pattern: Unicast,
		Duration: time.Second, Stall: true}
	res, err := Run(context.Background(), sc, target)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Counters
	t.Logf("RSS %d before, peak %d in the first half, %d in the second (bytes); %d sent, %d queue-full drops, %d pauses",
		res.RSSBefore, res.RSSPeakFirst, res.RSSPeakLast, res.Sent, c["hub_drop_queue-full"], c["hub_pauses"])
	switch overflow {
	case hub.OverflowPause:
		if c["hub_pauses"] == 0 {
			t.Errorf("no sender was paused with every receiver stopped; the scenario did not overload the hub")
		}
		// Frames still queued when the VMs hang up at the end are counted
		// as write-error and port-down; none may be lost to the load.
		for _, r := range []hub.DropReason{hub.DropQueueFull, hub.DropBacklogFull, hub.DropStalled, hub.DropKernel} {
			if n := c["hub_drop_"+r.String()]; n > 0 {
				t.Errorf("the pausing hub dropped %d frames as %s; want none", n, r)
			}
		}
	case hub.OverflowDrop:
		if c["hub_drop_queue-full"] == 0 {
			t.Errorf("got no queue-full drops with every receiver stopped; the scenario did not overload the hub")
		}
	}
	bound := int64(256 << 20)
	if raceEnabled {
		bound *= 4 // the race detector's shadow memory
	}
	if growth := int64(res.RSSMax) - int64(res.RSSBefore); growth > bound {
		t.Errorf("got resident set growth %d bytes under overload, want under %d", growth, bound)
	}
}

// liveHub is a two-port l2hub serve session over loopback TCP with a VM
// connected to each port, for the live-path tests and benchmarks.
func liveHub(tb testing.TB, target *Hub) (a, b VM, stop func()) {
	tb.Helper()
	n, err := target.Open(context.Background(), Scenario{Transport: "tcp", Size: 64, Ports: 2})
	if err != nil {
		tb.Fatal(err)
	}
	return n.Ports[0], n.Ports[1], func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	}
}

func benchFrame(size int) []byte {
	f := make([]byte, size)
	dst, src := MAC(1), MAC(0)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	f[12], f[13] = 0x88, 0xb5
	return f
}

// TestLiveUnicastDoesNotAllocate sends frames through the live serve path
// (StreamConn in, reader, loop, policy, writer, StreamConn out) and counts
// the whole process's allocations per frame.
func TestLiveUnicastDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, target := range []*Hub{
		{Mode: hub.ModeSwitch},
		{Mode: hub.ModeSwitch, Policy: true},
	} {
		t.Run(target.Name(), func(t *testing.T) {
			a, b, stop := liveHub(t, target)
			defer stop()
			ab, ba := benchFrame(64), benchFrame(64)
			copy(ba[0:6], ab[6:12]) // b answers a: the switch learns both
			copy(ba[6:12], ab[0:6])
			buf := make([]byte, hub.DefaultMaxFrame)
			roundTrip := func() {
				if err := a.WriteFrame(ab); err != nil {
					t.Fatal(err)
				}
				if _, err := b.ReadFrame(buf); err != nil {
					t.Fatal(err)
				}
			}
			for range 2000 { // learn, grow every buffer, fill the pools
				roundTrip()
				if err := b.WriteFrame(ba); err != nil {
					t.Fatal(err)
				}
				if _, err := a.ReadFrame(buf); err != nil {
					t.Fatal(err)
				}
			}
			if n := testing.AllocsPerRun(2000, roundTrip); n != 0 {
				t.Errorf("got %v allocations per frame forwarded through the live hub, want 0", n)
			}
		})
	}
}

// TestUseTargets: bench's target names become hub targets built on one
// base, and the overload, open-loop and stall scenarios get theirs.
func TestUseTargets(t *testing.T) {
	base := Hub{Mode: hub.ModeHub, Queue: 7}
	s := &Suite{OpenLoop: true}
	if err := s.UseTargets([]string{TargetHub, TargetHubPolicy, TargetHubCapture, TargetMcast}, base, true, true); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range s.Targets {
		names = append(names, tg.Name())
		if h := tg.(*Hub); h.Mode != base.Mode || h.Queue != base.Queue {
			t.Errorf("target %s = %+v, want the base's mode and queue", h.Name(), *h)
		}
	}
	if want := []string{TargetHub, TargetHubPolicy, TargetHubCapture}; !slices.Equal(names, want) {
		t.Errorf("got targets %q, want %q", names, want)
	}
	if s.Mcast == nil || s.Mcast.Name() != TargetMcast {
		t.Errorf("got multicast target %v, want %s", s.Mcast, TargetMcast)
	}
	if s.Overload != s.Targets[2] {
		t.Errorf("got overload target %v, want the last hub target", s.Overload)
	}
	if len(s.Compare) != 1 || s.Compare[0].Name() != TargetHub+"+drop" {
		t.Errorf("got comparison targets %v, want l2hub+drop", s.Compare)
	}
	if st, ok := s.Stall.(*Hub); !ok || st.BystanderStall != s.StallTime || st.Stall != 0 || s.StallTime <= 0 {
		t.Errorf("got stall target %v with stall time %v, want the base with the suite's", s.Stall, s.StallTime)
	}
	if err := (&Suite{}).UseTargets([]string{"nothing"}, base, false, false); err == nil {
		t.Error("an unknown target name was accepted")
	}
}
