package hub_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestWaitRoom: an injection that waits for room before each frame is held
// back at a pausing port's high-water mark as a VM sending to it is, goes
// on once the port's peer has read it down to the low-water mark, and
// loses nothing; a port that does not pause, or has no peer, never makes
// it wait.
func TestWaitRoom(t *testing.T) {
	const queue = 8
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), QueueLen: queue, Stall: time.Hour}, "b")
	b := ios["b"]
	b.setReading(false)
	ctx := context.Background()
	const n = 5 * queue
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := h.WaitRoom(ctx, "b"); err != nil {
				done <- err
				return
			}
			if r, err := h.Inject(ctx, "b", hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i)), hub.InjectNotes); err != nil || r != hub.DropNone {
				done <- fmt.Errorf("frame %d: %v, %v", i, r, err)
				return
			}
			sent.Add(1)
		}
		done <- nil
	}()
	congested := func() bool {
		var c bool
		h.Do(ctx, func(core *hub.Core) { id, _ := core.Lookup("b"); c = core.Congested(id) })
		return c
	}
	held := func() int {
		ports, err := h.Ports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ports[0].InjectionsHeld
	}
	waitFor(t, func() bool { return congested() && held() == 1 })
	// Congested, b holds the injection: it waits for room, and the queue
	// did not grow past the high-water mark (the stall time is an hour).
	if got := sent.Load(); got != queue {
		t.Errorf("got %d frames injected while b waits for room, want %d (its high-water mark)", got, queue)
	}
	// Its peer then reads everything.
	b.setReading(true)
	for i := range n {
		if got, want := strings.TrimRight(string(recv(t, b)[14:]), "\x00"), fmt.Sprint(i); got != want {
			t.Fatalf("frame %d: got %q, want %q", i, got, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := h.Stats(ctx, "b").Drops(hub.DropBacklogFull); d != 0 {
		t.Errorf("b dropped %d injected frames as backlog-full", d)
	}
	// A port without a peer holds nothing back: no wait.
	if err := h.AddPort("c", ""); err != nil {
		t.Fatal(err)
	}
	for range 2 * queue {
		if err := h.WaitRoom(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if r, _ := h.Inject(ctx, "c", hubtest.Frame(hubtest.Broadcast, macA, "x"), nil); r != hub.DropDown {
			t.Fatalf("Inject into a port with no peer: %v, want port-down", r)
		}
	}
	if err := h.WaitRoom(ctx, "nope"); err == nil {
		t.Error("WaitRoom on an unknown port: no error")
	}
}

// downGate is a Gate (a policy whose links can be cut) with one port's
// link down.
type downGate struct{ down string }

func (downGate) Decide(time.Duration, hub.Link, []byte, *hub.Decision) {}
func (g downGate) Cut(_, _ time.Duration, l hub.Link) (hub.Note, bool) {
	if l.FromName == g.down || l.ToName == g.down {
		return hub.Note{Action: "down", Detail: "port " + g.down}, true
	}
	return hub.Note{}, false
}

// TestInjectIntoADownLink: a frame injected into a port whose link is down
// is lost as a frame on its wire is: counted as the policy's drop, shown
// to observers as a dropped egress copy with the injection's note and the
// link's, and marked injected. Into a port whose link is up it goes
// through, marked injected too.
func TestInjectIntoADownLink(t *testing.T) {
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Policy: downGate{down: "b"}})
	b, _ := s.Core().Lookup("b")
	a, _ := s.Core().Lookup("a")
	if r := s.Core().Inject(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macA, "x")), hub.InjectNotes); r != hub.DropPolicy {
		t.Errorf("Inject into b, its link down: %v, want policy", r)
	}
	if r := s.Core().Inject(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macB, "y")), hub.InjectNotes); r != hub.DropNone {
		t.Errorf("Inject into a, its link up: %v, want it queued", r)
	}
	s.Advance(0)
	if got := s.Stats("b").Drops(hub.DropPolicy); got != 1 || len(s.Received("b")) != 0 {
		t.Errorf("b: %d policy drops, %d frames received; want the frame dropped", got, len(s.Received("b")))
	}
	if len(s.Received("a")) != 1 {
		t.Errorf("a received %d frames, want the one injected", len(s.Received("a")))
	}
	var got []string
	for _, ev := range s.Events() {
		if !ev.Injected || ev.Dir != hub.Egress {
			t.Errorf("event %s %s %q: want every event here an injected egress", ev.PortName, ev.Dir, ev.Comment())
		}
		got = append(got, fmt.Sprintf("%s dropped=%v %s", ev.PortName, ev.Dropped, ev.Comment()))
	}
	want := []string{
		"b dropped=true inject (from the control API (l2hub inject)); down (port b)",
		"a dropped=false inject (from the control API (l2hub inject))",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got events %q, want %q", got, want)
	}
}

// TestInjectIntoAPausedSender: a frame injected into a port whose own VM
// is paused as a sender goes to that VM at once: a sender's pause is not
// its queue's, and the injection does not end the pause.
func TestInjectIntoAPausedSender(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 4, Stall: time.Hour})
	s.SetReading("b", false)
	for i := range 6 {
		s.Send("a", seqFrame(i))
	}
	a, _ := s.Core().Lookup("a")
	if !s.Paused("a") {
		t.Fatal("a not paused by b's full queue")
	}
	if r := s.Core().Inject(a, hub.FrameOf(hubtest.Frame(macA, macB, "inj")), nil); r != hub.DropNone {
		t.Fatalf("got Inject into paused a = %v, want it queued", r)
	}
	s.Advance(0)
	if got := len(s.Received("a")); got != 1 || !s.Paused("a") {
		t.Errorf("got a's VM %d frames and a paused %v, want the injected frame and a still paused", got, s.Paused("a"))
	}
	s.SetReading("b", true)
	inOrder(t, s.Received("b"), 6)
}

// TestInjectedRuntIsDropped: a frame shorter than an Ethernet header (an
// empty one too) injected into a port is dropped as a runt, counted on
// that port and shown to observers as a dropped injected egress, and its
// peer gets nothing: on a stream port it would be a zero-length frame.
// Its link being down does not change the reason.
func TestInjectedRuntIsDropped(t *testing.T) {
	t.Run("core", func(t *testing.T) {
		s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Policy: downGate{down: "a"}})
		a, _ := s.Core().Lookup("a")
		b, _ := s.Core().Lookup("b")
		for _, tc := range []struct {
			port hub.PortID
			n    int
		}{{b, 0}, {b, 5}, {b, hub.EthHeaderLen - 1}, {a, 0}} {
			if r := s.Core().Inject(tc.port, hub.FrameOf(make([]byte, tc.n)), hub.InjectNotes); r != hub.DropRunt {
				t.Errorf("got Inject of %d bytes into port %d = %v, want runt", tc.n, tc.port, r)
			}
		}
		if r := s.Core().Inject(b, hub.FrameOf(make([]byte, hub.EthHeaderLen)), nil); r != hub.DropNone {
			t.Errorf("got Inject of %d bytes = %v, want it queued", hub.EthHeaderLen, r)
		}
		s.Advance(0)
		if got, runts := len(s.Received("b")), s.Stats("b").Drops(hub.DropRunt); got != 1 || runts != 3 {
			t.Errorf("b: got %d frames received, %d runts; want the 14-byte frame and 3 runts", got, runts)
		}
		if got := s.Stats("a").Snapshot().Drops; len(got) != 1 || got[hub.DropRunt.String()] != 1 {
			t.Errorf("a: got drops %v, want one runt (its link is down, the frame is still a runt)", got)
		}
		var got []string
		for _, ev := range s.Events() {
			if !ev.Injected || ev.Dir != hub.Egress {
				t.Errorf("event %s %s %q: want every event here an injected egress", ev.PortName, ev.Dir, ev.Comment())
			}
			got = append(got, fmt.Sprintf("%s %dB dropped=%v %s", ev.PortName, len(ev.Frame), ev.Dropped, ev.Comment()))
		}
		runt := "dropped=true inject (from the control API (l2hub inject)); runt (shorter than an Ethernet header (14 bytes))"
		want := []string{"b 0B " + runt, "b 5B " + runt, "b 13B " + runt, "a 0B " + runt, "b 14B dropped=false "}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got events %q, want %q", got, want)
		}
	})
	t.Run("hub", func(t *testing.T) {
		h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "b")
		ctx := context.Background()
		for _, n := range []int{0, 5} {
			if r, err := h.Inject(ctx, "b", make([]byte, n), nil); err != nil || r != hub.DropRunt {
				t.Errorf("got Inject of %d bytes = %v, %v; want runt, nil", n, r, err)
			}
		}
		// A port's writer keeps order: a runt queued before the marker
		// would reach b's peer first.
		marker := hubtest.Frame(hubtest.Broadcast, macA, "marker")
		if _, err := h.Inject(ctx, "b", marker, nil); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, ios["b"]); string(got) != string(marker) {
			t.Errorf("b's peer got %x first, want only the marker", got)
		}
		if got := h.Stats(ctx, "b").Drops(hub.DropRunt); got != 2 {
			t.Errorf("b: got %d runts, want 2", got)
		}
	})
}
