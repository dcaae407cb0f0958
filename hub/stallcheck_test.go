package hub_test

import (
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestDelayHeldSenderIsFreedByAStall: a sender held back only by the
// frames a delay holds for b (b's queue between its marks, not congested)
// is let go once b's peer has taken nothing for the stall time, as it
// would be behind a congested b; Flow shows b holding it meanwhile.
func TestDelayHeldSenderIsFreedByAStall(t *testing.T) {
	const queue = 16 // low-water mark 8
	const stall = time.Second
	s := learnSim(t, hubtest.Config{QueueLen: queue, Stall: stall, Policy: delayAll(10 * time.Second)})
	s.SetReading("b", false)
	b, _ := s.Core().Lookup("b")
	start := s.Now()
	i := 0
	for ; !s.Paused("a"); i++ {
		s.SendAt(start+time.Duration(i)*time.Millisecond, "a", seqFrame(i))
	}
	if fl := s.Core().Flow(b); !fl.DelayHeld || fl.Congested {
		t.Fatalf("a paused by b's delayed frames: Flow(b) = %+v, want DelayHeld and not Congested", fl)
	}
	// The frames come due one per ms from start+10s. b's peer reads one
	// per ms after the first 10, so its queue stays at 10: above the
	// low-water mark, below the high-water mark.
	s.AdvanceTo(start + 10*time.Second + 10*time.Millisecond)
	for range i - 10 {
		s.Advance(time.Millisecond)
		s.Read("b", 1)
	}
	s.Advance(10 * time.Millisecond)
	if fl := s.Core().Flow(b); !s.Paused("a") || s.Queued("b") != 10 || fl.Delayed != 0 || !fl.DelayHeld {
		t.Fatalf("before b's peer stops: a paused %v, b queued %d, Flow(b) = %+v; want paused, 10, held by nothing delayed",
			s.Paused("a"), s.Queued("b"), fl)
	}
	// b's peer stops reading (a VM paused in the monitor).
	s.Advance(stall + stall/4)
	if got := s.Stats("b").Stalls.Load(); s.Paused("a") || got != 1 {
		t.Errorf("after b's peer took nothing for %v: a paused %v, b stalls %d; want not paused, 1 stall (Flow(b) = %+v)",
			stall+stall/4, s.Paused("a"), got, s.Core().Flow(b))
	}
	if fl := s.Core().Flow(b); fl.DelayHeld || !fl.Stalled {
		t.Errorf("got Flow(b) = %+v, want stalled, holding no one", fl)
	}
}

// reuseQueue is an egress queue that allocates nothing once its slice has
// grown: its peer takes everything at once.
type reuseQueue struct {
	frames []*hub.Frame
	taken  uint64
}

func (q *reuseQueue) Enqueue(f *hub.Frame) { q.frames = append(q.frames, f) }
func (q *reuseQueue) Depth() hub.QueueDepth {
	return hub.QueueDepth{Frames: len(q.frames), Taken: q.taken}
}
func (q *reuseQueue) WatchDrain(int) {}
func (q *reuseQueue) takeAll() {
	q.taken += uint64(len(q.frames))
	hub.ReleaseAll(q.frames)
	q.frames = q.frames[:0]
}

// TestCongestionEpisodesDoNotAllocate: a congestion that begins (its
// sender paused, its stall check armed) and ends costs no allocation, and
// leaves no timer behind however many there were.
func TestCongestionEpisodesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Second})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &reuseQueue{}
	b, _ := c.AddPort("b", "", q)
	frame := hubtest.Frame(macB, macA, "x")
	episodes := 0
	episode := func() {
		for range 4 {
			c.Ingress(a, hub.FrameOf(frame))
		}
		if !c.Paused(a) || !c.Congested(b) {
			t.Fatalf("after 4 frames: a paused %v, b congested %v; want both", c.Paused(a), c.Congested(b))
		}
		q.takeAll()
		c.Drained(b)
		clock.Advance(time.Millisecond)
		episodes++
	}
	for range 10 {
		episode()
	}
	if n := testing.AllocsPerRun(1000, episode); n != 0 {
		t.Errorf("got %v allocations per congestion episode, want 0", n)
	}
	if n := c.Pending(); n > 1 {
		t.Errorf("got %d timers pending after %d congestion episodes, want at most b's one stall check", n, episodes)
	}
	if c.Paused(a) {
		t.Error("a still paused after b drained")
	}
}

// TestBroadcastToASlowAndAStalledPort: a broadcasts to b, which reads
// slowly, and to c, which reads nothing. c stalls once and drops a's
// frames as stalled; b gets every frame, in order; a is not left paused.
// c, reading again, loses nothing more and gets the rest in order. At
// each destination, a's frames are queued or dropped, each once.
func TestBroadcastToASlowAndAStalledPort(t *testing.T) {
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b", "c"}, QueueLen: 4, Stall: time.Second})
	s.SetReadEvery("b", 10*time.Millisecond)
	s.SetReading("c", false)
	const n = 400
	for i := range n {
		s.SendAt(time.Duration(i)*5*time.Millisecond, "a", seqFrame(i))
	}
	s.Drain()
	inOrder(t, s.Received("b"), n)
	sc := s.Stats("c").Snapshot()
	if sc.Stalls != 1 || sc.Drops[hub.DropStalled.String()] == 0 {
		t.Errorf("c: got %+v, want one stall and stalled drops", sc)
	}
	if sb := s.Stats("b").Snapshot(); len(sb.Drops) != 0 || sb.Stalls != 0 {
		t.Errorf("b: got %+v, want nothing lost", sb)
	}
	if s.Paused("a") {
		t.Error("a paused at the end")
	}
	s.SetReading("c", true)
	s.Take("c")
	for i := n; i < n+50; i++ {
		s.Send("a", seqFrame(i))
	}
	s.Drain()
	got := s.Received("c")
	if len(got) != 50 {
		t.Fatalf("c got %d of the 50 frames sent after it read again", len(got))
	}
	for i, d := range got {
		if seq := seqOf(d.Frame); seq != n+i {
			t.Fatalf("got c's frame %d = a's %d, want %d", i, seq, n+i)
		}
	}
	if more := s.Stats("c").Drops(hub.DropStalled) - sc.Drops[hub.DropStalled.String()]; more != 0 {
		t.Errorf("c dropped %d more after it read again", more)
	}
	ra := s.Stats("a").RxFrames.Load()
	for _, p := range []string{"b", "c"} {
		st := s.Stats(p).Snapshot()
		var drops uint64
		for _, v := range st.Drops {
			drops += v
		}
		if st.TxFrames+drops != ra {
			t.Errorf("%s: got tx %d + drops %d, want a's %d frames", p, st.TxFrames, drops, ra)
		}
	}
}

// TestStalledPortWithDelayedFramesRecovers: b stalls while a delay holds
// a's frames for it; those coming due while it is stalled are dropped as
// stalled. Once b's peer reads, b is lossless again and in order, and its
// counters add up: tx + drops is what a and c sent.
func TestStalledPortWithDelayedFramesRecovers(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 4, Stall: 400 * time.Millisecond, Policy: delayAll(300 * time.Millisecond)})
	s.SetReading("b", false)
	for i := range 40 {
		s.SendAt(s.Now()+10*time.Millisecond, "a", seqFrame(i))
	}
	s.Advance(2 * time.Second)
	if st := s.Stats("b").Snapshot(); st.Stalls != 1 || st.Drops[hub.DropStalled.String()] == 0 {
		t.Fatalf("b: got %+v, want stalled once, dropping what came due", st)
	}
	s.SetReading("b", true)
	before := len(s.Take("b"))
	for i := 40; i < 80; i++ {
		s.SendAt(s.Now()+10*time.Millisecond, "a", seqFrame(i))
	}
	s.Drain()
	got := s.Received("b")
	if len(got) != 40 {
		t.Fatalf("b got %d of the 40 frames sent after it read again", len(got))
	}
	for i, d := range got {
		if seq := seqOf(d.Frame); seq != 40+i {
			t.Fatalf("got b's frame %d = a's %d, want %d", i, seq, 40+i)
		}
	}
	st := s.Stats("b").Snapshot()
	var drops uint64
	for _, v := range st.Drops {
		drops += v
	}
	// learnSim's hellos from a and c reached b before: 2 more in tx
	sent := s.Stats("a").RxFrames.Load() + s.Stats("c").RxFrames.Load()
	if st.TxFrames+drops != sent || st.TxFrames != uint64(before+40+2) {
		t.Errorf("b: got tx %d, drops %v; want tx %d (read) and tx + drops = %d (sent by a and c)", st.TxFrames, st.Drops, before+40+2, sent)
	}
	if s.Paused("a") {
		t.Error("a paused at the end")
	}
}
