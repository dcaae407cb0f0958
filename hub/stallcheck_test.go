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
