package hub_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// Flow control in virtual time, on the synchronous simulator and on a core
// with a queue the test drains by hand.

var macC = hubtest.MAC("02:00:00:00:00:0c")

// learnSim returns a switch Sim with ports a, b, c whose MACs it knows.
func learnSim(t *testing.T, cfg hubtest.Config) *hubtest.Sim {
	t.Helper()
	cfg.Mode, cfg.Ports = hub.ModeSwitch, []string{"a", "b", "c"}
	s := hubtest.New(t, cfg)
	for _, p := range []struct {
		name string
		mac  [6]byte
	}{{"a", macA}, {"b", macB}, {"c", macC}} {
		s.Send(p.name, hubtest.Frame(hubtest.Broadcast, p.mac, "hello"))
	}
	s.Drain() // hellos a policy delayed
	for _, p := range []string{"a", "b", "c"} {
		s.Take(p)
	}
	return s
}

func TestPauseHysteresis(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 8}) // low-water mark 4
	s.SetReading("b", false)
	for i := range 20 {
		s.Send("a", hubtest.Frame(macB, macA, fmt.Sprint(i)))
	}
	if !s.Paused("a") || s.Queued("b") != 8 || s.Held("a") != 12 {
		t.Fatalf("paused %v, b's queue %d, a holds %d; want a paused at b's high-water mark 8 with 12 held",
			s.Paused("a"), s.Queued("b"), s.Held("a"))
	}
	s.Read("b", 3) // down to 5: above the low-water mark
	if !s.Paused("a") {
		t.Errorf("a resumed with b's queue at %d, above its low-water mark", s.Queued("b"))
	}
	s.Read("b", 1) // down to 4: a goes on, and fills b's queue again
	if s.Paused("a") && s.Held("a") == 12 {
		t.Errorf("a still paused and holding 12 with b's queue at its low-water mark")
	}
	if got := s.Stats("a").Pauses.Load(); got != 2 {
		t.Errorf("a was paused %d times, want 2 (at 8, and again after resuming at 4)", got)
	}
	s.SetReading("b", true)
	if got := len(s.Received("b")); got != 20 {
		t.Errorf("b received %d frames, want all 20", got)
	}
	if s.Paused("a") || s.Held("a") != 0 {
		t.Errorf("a paused %v holding %d after b read everything", s.Paused("a"), s.Held("a"))
	}
}

// TestSlowReaderNeverStalls: a peer that takes one frame every 100ms is
// slow, not stalled; with a stall time of 1s, its senders are paused and
// resumed over and over and nothing is lost, and the time they spent paused
// is accounted in virtual time.
func TestSlowReaderNeverStalls(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 4, Stall: time.Second})
	s.SetReadEvery("b", 100*time.Millisecond)
	const n = 30
	for i := range n {
		s.Send("a", hubtest.Frame(macB, macA, fmt.Sprint(i)))
	}
	s.Drain()
	got := s.Received("b")
	if len(got) != n {
		t.Fatalf("b received %d frames, want %d", len(got), n)
	}
	st := s.Stats("b").Snapshot()
	if st.Stalls != 0 || len(st.Drops) != 0 {
		t.Errorf("b: %d stalls, drops %v; want none", st.Stalls, st.Drops)
	}
	a := s.Stats("a").Snapshot()
	// The last frame is read at 3s; a was held back for all but the time
	// it took b to read the first frames after each resume.
	if a.Pauses == 0 || a.Paused <= time.Second || a.Paused > 3*time.Second {
		t.Errorf("a: %d pauses, %v paused; want several, between 1s and the 3s b took", a.Pauses, a.Paused)
	}
	if last := got[n-1].Read; last != n*100*time.Millisecond {
		t.Errorf("b read the last frame at %v, want %v", last, n*100*time.Millisecond)
	}
}

// TestDelayedFramesPauseTheirSender: a frame a rule delayed that finds its
// destination congested pauses the port it came in on.
func TestDelayedFramesPauseTheirSender(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 4, Policy: delayAll(10 * time.Millisecond)})
	s.SetReading("b", false)
	for i := range 6 {
		s.Send("a", hubtest.Frame(macB, macA, fmt.Sprint(i)))
	}
	if s.Paused("a") {
		t.Fatalf("a paused before its delayed frames reached b")
	}
	s.Advance(10 * time.Millisecond)
	if !s.Paused("a") {
		t.Errorf("b's queue holds %d delayed frames from a, and a is not paused", s.Queued("b"))
	}
	s.SetReading("b", true)
	if s.Paused("a") || len(s.Received("b")) != 6 {
		t.Errorf("after b read: a paused %v, b got %d of 6", s.Paused("a"), len(s.Received("b")))
	}
}

type delayAll time.Duration

func (d delayAll) Decide(_ time.Duration, _ hub.Link, _ []byte, dec *hub.Decision) {
	dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Duration(d)})
}

// manualQueue is a port's queue that the test drains: it never reports a
// drain itself, as a writer that drained the queue without seeing the
// core's watch would not.
type manualQueue struct {
	frames []*hub.Frame
	taken  uint64
	// emptyAfterWatch drains the queue when the core sets its watch: a
	// writer that emptied it just before.
	emptyAfterWatch bool
}

func (q *manualQueue) Enqueue(f *hub.Frame) { q.frames = append(q.frames, f) }
func (q *manualQueue) Depth() hub.QueueDepth {
	return hub.QueueDepth{Frames: len(q.frames), Taken: q.taken}
}
func (q *manualQueue) WatchDrain(low int) {
	if low >= 0 && q.emptyAfterWatch {
		q.take(len(q.frames))
	}
}
func (q *manualQueue) take(n int) {
	hub.ReleaseAll(q.frames[:n])
	q.frames = q.frames[n:]
	q.taken += uint64(n)
}

func manualCore(t *testing.T, q *manualQueue) (*hub.Core, *hub.VirtualClock, hub.PortID, hub.PortID) {
	t.Helper()
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Second})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", q)
	return c, clock, a, b
}

// TestCongestionTheWriterAlreadyDrained: a queue that drained as the core
// marked it congested holds no one back.
func TestCongestionTheWriterAlreadyDrained(t *testing.T) {
	q := &manualQueue{emptyAfterWatch: true}
	c, _, a, _ := manualCore(t, q)
	for i := range 4 {
		c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, fmt.Sprint(i))))
	}
	if c.Paused(a) {
		t.Errorf("a paused by a queue that is empty")
	}
}

// TestStalledPortForwardsOnceDrained: a stalled port whose queue has
// drained takes frames again at the next one, without being told.
func TestStalledPortForwardsOnceDrained(t *testing.T) {
	q := &manualQueue{}
	c, clock, a, b := manualCore(t, q)
	send := func() { c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x"))) }
	for range 4 {
		send()
	}
	if !c.Paused(a) {
		t.Fatal("a not paused with b's queue at its high-water mark")
	}
	clock.Advance(time.Second)
	c.RunDue()
	if fl := c.Flow(b); !fl.Stalled || c.Paused(a) {
		t.Fatalf("after the stall time: b %+v, a paused %v; want b stalled and a let go", fl, c.Paused(a))
	}
	send()
	if got := c.Stats(b).Drops(hub.DropStalled); got != 1 {
		t.Fatalf("got %d stalled drops, want 1", got)
	}
	q.take(len(q.frames)) // the peer reads, and nobody tells the core
	send()
	if fl := c.Flow(b); fl.Stalled || len(q.frames) != 1 {
		t.Errorf("after b drained: %+v with %d queued; want it forwarding again", fl, len(q.frames))
	}
}

// TestDetachLetsSendersGo: a congested port whose peer goes releases the
// senders it held back.
func TestDetachLetsSendersGo(t *testing.T) {
	q := &manualQueue{}
	c, _, a, b := manualCore(t, q)
	for range 4 {
		c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x")))
	}
	if !c.Paused(a) {
		t.Fatal("a not paused")
	}
	if err := c.SetEgress(b, nil); err != nil {
		t.Fatal(err)
	}
	if c.Paused(a) {
		t.Error("a still paused after b's peer went away")
	}
}

type nopObserver struct{}

func (nopObserver) Observe(*hub.Event) {}

// TestDropsDoNotAllocate: a frame flow control drops (a full queue, a
// stalled port) costs no allocation, observers or not.
func TestDropsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	for _, overflow := range []hub.Overflow{hub.OverflowDrop, hub.OverflowPause} {
		t.Run(overflow.String(), func(t *testing.T) {
			clock := hub.NewVirtualClock(hub.DefaultEpoch)
			c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Overflow: overflow,
				Stall: time.Second, Observers: []hub.Observer{nopObserver{}}})
			a, _ := c.AddPort("a", "", hub.Discard{})
			b, _ := c.AddPort("b", "", &manualQueue{})
			frame := hubtest.Frame(macB, macA, "x")
			send := func() {
				for range 16 {
					c.Ingress(a, hub.FrameOf(frame))
				}
			}
			send()
			clock.Advance(2 * time.Second) // a pausing b stalls
			c.RunDue()
			send()
			if n := testing.AllocsPerRun(100, send); n != 0 {
				t.Errorf("got %v allocations per 16 dropped frames, want 0", n)
			}
			if c.Stats(b).Drops(hub.DropQueueFull)+c.Stats(b).Drops(hub.DropStalled) == 0 {
				t.Error("nothing was dropped")
			}
		})
	}
}

// recordDrops keeps, for each egress event dropped, the port and its notes.
type recordDrops struct{ drops []string }

func (r *recordDrops) Observe(ev *hub.Event) {
	if ev.Dir != hub.Egress || !ev.Dropped {
		return
	}
	s := ev.PortName + ":"
	for _, n := range ev.Notes {
		s += " " + n.String()
	}
	r.drops = append(r.drops, s)
}

// TestStallIsNotedAndLoggedOnce: every frame a stalled port drops carries
// the reason in its egress event (what a capture writes as its comment),
// and the stall is logged once per episode, not once per frame: again only
// when the port, having drained, stalls anew.
func TestStallIsNotedAndLoggedOnce(t *testing.T) {
	q := &manualQueue{}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	var log bytes.Buffer
	rec := &recordDrops{}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Second,
		Observers: []hub.Observer{rec}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", q)
	send := func(n int) {
		for range n {
			c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x")))
		}
	}
	stall := func() {
		send(4) // b's queue at its high-water mark: a paused
		clock.Advance(time.Second)
		c.RunDue()
		if !c.Flow(b).Stalled {
			t.Fatalf("b not stalled after the stall time: %+v", c.Flow(b))
		}
		send(3)
	}
	stall()
	if got := c.Stats(b).Drops(hub.DropStalled); got != 3 || len(rec.drops) != 3 {
		t.Fatalf("%d stalled drops, %d dropped events; want 3 of each", got, len(rec.drops))
	}
	for _, d := range rec.drops {
		if !strings.HasPrefix(d, "b: ") || !strings.Contains(d, "stalled") || !strings.Contains(d, "stall time") {
			t.Errorf("dropped event %q does not say the port stalled", d)
		}
	}
	if n := strings.Count(log.String(), "port stalled"); n != 1 {
		t.Fatalf("the stall was logged %d times, want once:\n%s", n, log.String())
	}
	q.take(len(q.frames)) // b's peer reads: the episode ends
	send(1)
	stall()
	if n := strings.Count(log.String(), "port stalled"); n != 2 {
		t.Errorf("two stalls logged %d times, want twice:\n%s", n, log.String())
	}
}

// TestPortStallOverridesTheHubs: a port's own stall time decides when it
// stalls, whatever the hub's: with the hub's at 1s, a port set to 10s is
// still held for after 1s and stalls only after 10s; one set to 100ms
// stalls after 100ms.
func TestPortStallOverridesTheHubs(t *testing.T) {
	for _, tc := range []struct {
		stall, before, after time.Duration
	}{
		{stall: 10 * time.Second, before: 9 * time.Second, after: 10 * time.Second},
		{stall: 100 * time.Millisecond, before: 99 * time.Millisecond, after: 100 * time.Millisecond},
	} {
		q := &manualQueue{}
		clock := hub.NewVirtualClock(hub.DefaultEpoch)
		c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Second})
		a, _ := c.AddPort("a", "", hub.Discard{})
		b, err := c.AddPortWith("b", "", q, hub.PortOptions{Stall: tc.stall})
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x")))
		}
		clock.Advance(tc.before)
		c.RunDue()
		if c.Flow(b).Stalled {
			t.Errorf("stall %v: b stalled after %v", tc.stall, tc.before)
		}
		clock.Advance(tc.after - tc.before)
		c.RunDue()
		if !c.Flow(b).Stalled {
			t.Errorf("stall %v: b not stalled after %v", tc.stall, tc.after)
		}
	}
	if _, err := hub.NewCore(hub.CoreConfig{Clock: hub.NewVirtualClock(hub.DefaultEpoch)}).AddPortWith("x", "", hub.Discard{}, hub.PortOptions{Stall: -time.Second}); err == nil {
		t.Error("a negative stall time was accepted")
	}
}

// TestFlowSaysTheStallInForce: a port's flow status gives the stall time
// it stalls after: its own when it has one, else the hub's, else the
// default.
func TestFlowSaysTheStallInForce(t *testing.T) {
	for _, tc := range []struct {
		hub, port, want time.Duration
	}{
		{hub: time.Second, port: 10 * time.Second, want: 10 * time.Second},
		{hub: time.Second, want: time.Second},
		{want: hub.DefaultStall},
	} {
		c := hub.NewCore(hub.CoreConfig{Clock: hub.NewVirtualClock(hub.DefaultEpoch), Stall: tc.hub})
		id, err := c.AddPortWith("a", "", hub.Discard{}, hub.PortOptions{Stall: tc.port})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Flow(id).Stall; got != tc.want {
			t.Errorf("hub stall %v, port's %v: Flow says %v, want %v", tc.hub, tc.port, got, tc.want)
		}
	}
}

// backlogQueue is a manualQueue whose peer reads from buffers below the hub
// (a socket's send queue), bytes at a time, without taking a whole write.
type backlogQueue struct {
	manualQueue
	backlog int
}

func (q *backlogQueue) PeerBacklog() (int, bool) { return q.backlog, true }

// TestStallCountsFromTheLastProgress: a peer that takes a frame just after
// its port congests and then nothing stalls its stall time after that frame
// (checks come four times per stall time, so within a quarter more), not a
// whole stall time after a check that saw the frame.
func TestStallCountsFromTheLastProgress(t *testing.T) {
	q := &manualQueue{}
	c, clock, a, b := manualCore(t, q) // stall 1s
	drv := hub.Driver{Clock: clock, Core: c}
	at := func(d time.Duration) { drv.AdvanceTo(hub.DefaultEpoch.Add(d), nil) } // each timer at its time
	for range 5 {
		c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x")))
	}
	at(10 * time.Millisecond)
	q.take(1) // above the low-water mark still
	at(time.Second)
	if c.Flow(b).Stalled {
		t.Fatal("b stalled 990ms after its peer took a frame, within the 1s stall time")
	}
	at(1260 * time.Millisecond)
	if !c.Flow(b).Stalled {
		t.Errorf("b not stalled 1.25s after its peer last took a frame; the stall time is 1s")
	}
}

// TestPeerReadingBelowTheHubIsNotStalled: a peer that takes no whole write
// but drains the socket below the hub a little every 100ms (the hub's
// writer waits for a send buffer of megabytes to half empty) is slow, not
// stalled; once the backlog stops moving too, the port stalls.
func TestPeerReadingBelowTheHubIsNotStalled(t *testing.T) {
	q := &backlogQueue{backlog: 1 << 20}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Second})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", q)
	for range 4 {
		c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "x")))
	}
	for range 100 { // 10s
		clock.Advance(100 * time.Millisecond)
		q.backlog -= 1000
		c.RunDue()
	}
	if fl := c.Flow(b); fl.Stalled || !fl.Congested || !c.Paused(a) {
		t.Fatalf("after 10s of a peer reading below the hub: %+v, a paused %v; want b congested, a held, no stall", fl, c.Paused(a))
	}
	clock.Advance(1250 * time.Millisecond)
	c.RunDue()
	if !c.Flow(b).Stalled {
		t.Errorf("b not stalled 1.25s after its peer's backlog last moved")
	}
}
