package hub_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// The hub-wide bound on delayed frames (CoreConfig.MaxDelayedFrames and
// MaxDelayedBytes) is a backstop, not a policy: senders whose copies wait
// out a delay are paused at a hub-wide mark well below it, so a delay loses
// nothing while every receiver reads, however large the frames, as long as
// what the senders paused at once still send fits the room above the mark
// (see Core.markFrames).

// markMAC is the MAC of port i in these tests.
func markMAC(i int) [6]byte { return [6]byte{0x02, 0, 0, 0, 0x10, byte(i)} }

// sizedFrame is a frame of size bytes from src to dst carrying seq.
func sizedFrame(dst, src [6]byte, seq, size int) []byte {
	f := hubtest.Frame(dst, src, "")
	f = append(f[:14], make([]byte, max(size, 60)-14)...)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	return f
}

// markSim returns a Sim with ports under a delay on every link, each
// port's MAC learned (in switch mode) and nothing received yet.
func markSim(t *testing.T, mode hub.Mode, names []string, delay time.Duration) *hubtest.Sim {
	t.Helper()
	s := hubtest.New(t, hubtest.Config{Mode: mode, Ports: names, Policy: delayAll(delay), Stall: time.Hour})
	if mode == hub.ModeSwitch {
		for i, n := range names {
			s.Send(n, hubtest.Frame(hubtest.Broadcast, markMAC(i), "hello"))
		}
		s.Drain()
		for _, n := range names {
			s.Take(n)
		}
	}
	return s
}

// checkLossless checks that every receiver got want[receiver] frames, in
// order from each sender, that no port counted a drop, that senders were
// paused, and that after the run nothing waits and no one is paused.
func checkLossless(t *testing.T, s *hubtest.Sim, names []string, want map[string]int, senders []string) {
	t.Helper()
	for _, n := range names {
		got := s.Received(n)
		if len(got) != want[n] {
			t.Errorf("%s received %d frames, want %d", n, len(got), want[n])
		}
		next := map[string]uint32{}
		for _, d := range got {
			src := string(d.Frame[6:12])
			if seq := binary.BigEndian.Uint32(d.Frame[14:]); seq != next[src] {
				t.Errorf("%s: frame %d from %x arrived where %d was next", n, seq, d.Frame[6:12], next[src])
				break
			}
			next[src]++
		}
		if st := s.Stats(n).Snapshot(); len(st.Drops) != 0 {
			t.Errorf("%s dropped %v; want nothing lost", n, st.Drops)
		}
		if s.Paused(n) || s.Held(n) != 0 {
			t.Errorf("after the run %s is paused %v, holding %d frames", n, s.Paused(n), s.Held(n))
		}
	}
	for _, n := range senders {
		if s.Stats(n).Pauses.Load() == 0 {
			t.Errorf("sender %s was never paused", n)
		}
	}
	if f, b := s.Core().Delayed(); f != 0 || b != 0 {
		t.Errorf("after the run Delayed() = %d, %d; want 0, 0", f, b)
	}
}

func portNames(prefix string, n int) []string {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("%s%02d", prefix, i))
	}
	return names
}

// TestDelayMarkBroadcast: one VM broadcasts to 8 others in hub mode under
// a delay: 8 copies of each frame wait, and the sender pauses before the
// hub-wide bound, though each port's own delayed frames stay below its
// second mark.
func TestDelayMarkBroadcast(t *testing.T) {
	names := portNames("p", 9)
	s := markSim(t, hub.ModeHub, names, 100*time.Millisecond)
	const n = 5000
	for i := range n {
		s.Send(names[0], sizedFrame(hubtest.Broadcast, markMAC(0), i, 64))
	}
	s.Drain()
	want := map[string]int{}
	for _, nm := range names[1:] {
		want[nm] = n
	}
	checkLossless(t, s, names, want, names[:1])
}

// TestDelayMarkPairs: 8 unicast pairs, each under a delay, in switch mode.
func TestDelayMarkPairs(t *testing.T) {
	names := portNames("p", 16)
	s := markSim(t, hub.ModeSwitch, names, 100*time.Millisecond)
	const n = 5000
	for i := range n {
		for k := range 8 {
			s.Send(names[2*k], sizedFrame(markMAC(2*k+1), markMAC(2*k), i, 64))
		}
	}
	s.Drain()
	want := map[string]int{}
	var senders []string
	for k := range 8 {
		want[names[2*k+1]] = n
		senders = append(senders, names[2*k])
	}
	checkLossless(t, s, names, want, senders)
}

// TestDelayMarkJumbo: large frames reach the hub-wide byte bound with few
// ports: 3 ports in a ring with 9000-byte frames, and 2 ports sending
// 9000- and 65 000-byte frames both ways.
func TestDelayMarkJumbo(t *testing.T) {
	t.Run("ring-9000", func(t *testing.T) {
		names := portNames("r", 3)
		s := markSim(t, hub.ModeSwitch, names, 100*time.Millisecond)
		const n = 3000
		for i := range n {
			for k := range 3 {
				s.Send(names[k], sizedFrame(markMAC((k+1)%3), markMAC(k), i, 9000))
			}
		}
		s.Drain()
		checkLossless(t, s, names, map[string]int{names[0]: n, names[1]: n, names[2]: n}, names)
	})
	for _, tc := range []struct{ size, n int }{{9000, 5000}, {65000, 1000}} {
		t.Run(fmt.Sprintf("both-ways-%d", tc.size), func(t *testing.T) {
			names := portNames("v", 2)
			s := markSim(t, hub.ModeSwitch, names, 200*time.Millisecond)
			for i := range tc.n {
				s.Send(names[0], sizedFrame(markMAC(1), markMAC(0), i, tc.size))
				s.Send(names[1], sizedFrame(markMAC(0), markMAC(1), i, tc.size))
			}
			s.Drain()
			checkLossless(t, s, names, map[string]int{names[0]: tc.n, names[1]: tc.n}, names)
		})
	}
}

// TestDelayMarkPaced: two VMs send 9000-byte frames both ways at 5000
// frames/s (360 Mbit/s) for 2 s under a 1 s delay: more than the hub-wide
// byte bound would be in flight, so both senders are slowed by pauses, and
// nothing is lost.
func TestDelayMarkPaced(t *testing.T) {
	names := portNames("v", 2)
	s := markSim(t, hub.ModeSwitch, names, time.Second)
	start := s.Now()
	const n = 10000
	for i := range n {
		s.AdvanceTo(start + time.Duration(i)*200*time.Microsecond)
		s.Send(names[0], sizedFrame(markMAC(1), markMAC(0), i, 9000))
		s.Send(names[1], sizedFrame(markMAC(0), markMAC(1), i, 9000))
	}
	s.Drain()
	checkLossless(t, s, names, map[string]int{names[0]: n, names[1]: n}, names)
}

// delayFrom delays every frame by the delay set for the port it came from.
type delayFrom map[string]time.Duration

func (p delayFrom) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	dec.Copies = append(dec.Copies, hub.Copy{Delay: p[l.FromName]})
}

// TestDelayMarkHoldsEnd: a sender held at the hub-wide mark goes on once
// the frames it waits for are gone, whichever comes first: the hub's
// delayed frames down to the low mark, or its destination's delayed frames
// down to none.
func TestDelayMarkHoldsEnd(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fill, held  time.Duration // the delays of c* (which fill the hub) and of a
		frames      int           // a sends
		lastBy      time.Duration // a's last frame read by
		whyReleased string
	}{
		// The hub stays above its low mark for 10 s, b's delayed frames
		// are gone after 100 ms: a goes on at each.
		{"port-drained", 10 * time.Second, 100 * time.Millisecond, 10, 2 * time.Second, "b had no delayed frame left"},
		// b waits 10 s for a's frame, the hub is below its low mark after
		// 100 ms: a goes on then.
		{"hub-drained", 100 * time.Millisecond, 10 * time.Second, 3, 11 * time.Second, "the hub was below its low mark"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := []string{"a", "b"}
			pol := delayFrom{"a": tc.held}
			for k := range 4 {
				c, d := fmt.Sprintf("c%d", k), fmt.Sprintf("d%d", k)
				names = append(names, c, d)
				pol[c] = tc.fill
			}
			s := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: names, Policy: pol, Stall: time.Hour})
			for i, n := range names {
				s.Send(n, hubtest.Frame(hubtest.Broadcast, markMAC(i), "hello"))
			}
			s.Drain()
			for _, n := range names {
				s.Take(n)
			}
			start := s.Now()
			// Four ports fill the hub to its high mark, each below its own
			// second mark.
			per := hub.DefaultMaxDelayedFrames / 2 / 4
			for i := range per {
				for k := range 4 {
					s.Send(names[2+2*k], sizedFrame(markMAC(3+2*k), markMAC(2+2*k), i, 64))
				}
			}
			if f, _ := s.Core().Delayed(); f < hub.DefaultMaxDelayedFrames/2 {
				t.Fatalf("the fill delayed %d frames, below the high mark", f)
			}
			for i := range tc.frames {
				s.Send("a", sizedFrame(markMAC(1), markMAC(0), i, 64))
			}
			if !s.Paused("a") {
				t.Fatalf("a not paused with the hub past its high mark")
			}
			s.Drain()
			got := s.Received("b")
			if len(got) != tc.frames {
				t.Fatalf("b received %d of a's %d frames", len(got), tc.frames)
			}
			if last := got[len(got)-1].Read - start; last > tc.lastBy {
				t.Errorf("a's last frame read at %v, want by %v: a stayed paused after %s", last, tc.lastBy, tc.whyReleased)
			}
			for _, n := range names {
				if st := s.Stats(n).Snapshot(); len(st.Drops) != 0 || s.Paused(n) {
					t.Errorf("%s dropped %v, paused %v after the run", n, st.Drops, s.Paused(n))
				}
			}
		})
	}
}

// TestDelayBoundPausesItsSender: a copy the hub-wide bound refuses before
// the high mark held anyone back (a frame larger than the room left) is
// dropped as delay-full and pauses its sender, until the delayed frames
// are gone.
func TestDelayBoundPausesItsSender(t *testing.T) {
	small := hubtest.Frame(macB, macA, "small")
	large := sizedFrame(macB, macA, 1, 9000)
	fs, fl := footprint(small), footprint(large)
	if fl <= 2*fs {
		t.Fatalf("a 9000-byte frame holds %d bytes, a small one %d: the test needs more than twice", fl, fs)
	}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, Policy: delayAll(time.Second), MaxDelayedBytes: fl})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	c.Ingress(a, hub.FrameOf(small)) // below the high mark, half of fl
	if c.Paused(a) {
		t.Fatalf("a paused with %d of %d bytes delayed", fs, fl)
	}
	c.Ingress(a, hub.FrameOf(large)) // past the bound
	if got := c.Stats(b).Drops(hub.DropDelayFull); got != 1 {
		t.Fatalf("b counted %d delay-full drops, want 1", got)
	}
	if !c.Paused(a) {
		t.Errorf("a's copy was dropped at the delay bound and a is not paused")
	}
	clock.Advance(time.Second)
	c.RunDue()
	if c.Paused(a) {
		t.Errorf("a still paused with nothing delayed")
	}
}

// TestDelayMarkDoesNotAllocate: holding senders at the hub-wide delay mark,
// dropping at its bound and letting them go at its low mark cost no
// allocation (the hold's start costs its stall check, once).
func TestDelayMarkDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, Stall: time.Hour, MaxDelayedFrames: 8,
		Policy: delayAll(time.Millisecond), Observers: []hub.Observer{nopObserver{}}})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	frame := hubtest.Frame(macB, macA, "x")
	episodes := 0
	episode := func() {
		episodes++
		for range 12 { // the high mark at 4, the bound at 8
			c.Ingress(a, hub.FrameOf(frame))
		}
		if !c.Paused(a) {
			t.Fatalf("a not paused with the hub at its delay bound")
		}
		clock.Advance(time.Millisecond)
		c.RunDue()
		if c.Paused(a) {
			t.Fatalf("a paused with nothing delayed")
		}
	}
	episode()
	if n := testing.AllocsPerRun(100, episode); n != 0 {
		t.Errorf("got %v allocations per episode, want 0", n)
	}
	if got := c.Stats(b).Drops(hub.DropDelayFull); got != uint64(4*episodes) {
		t.Errorf("b counted %d delay-full drops in %d episodes, want 4 each", got, episodes)
	}
}

// delayLinks delays the frames of the listed links ("from>to") only.
type delayLinks map[string]time.Duration

func (p delayLinks) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	if d, ok := p[l.FromName+">"+l.ToName]; ok {
		dec.Copies = append(dec.Copies, hub.Copy{Delay: d})
	}
}

// TestDropPortDoesNotLatchTheMark: x sends to a tail-dropping port d at
// 20 000 frames/s under a 1 s delay, more than half the delay bound in
// flight; y sends to pausing port p at 1000 frames/s under the same
// delay. Pausing y cannot lower what x's delay holds, so the hub-wide mark
// must not hold y back: p gets every frame of y's that is past its delay,
// as with no mark at all, and x's excess is dropped as delay-full at d.
func TestDropPortDoesNotLatchTheMark(t *testing.T) {
	names := []string{"p", "x", "y"} // MACs 0, 1, 2; d's is 3
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: names, Stall: time.Hour,
		Policy: delayLinks{"x>d": time.Second, "y>p": time.Second}})
	s.AddPortWith(t, "d", hub.PortOptions{Overflow: hub.OverflowDrop})
	for i, n := range append(names, "d") {
		s.Send(n, hubtest.Frame(hubtest.Broadcast, markMAC(i), "hello"))
	}
	s.Drain()
	for _, n := range append(names, "d") {
		s.Take(n)
	}
	const step = 50 * time.Microsecond
	start := s.Now()
	sentY, dueY := 0, 0
	for i := 0; time.Duration(i)*step < 3*time.Second; i++ {
		at := start + time.Duration(i)*step
		s.AdvanceTo(at)
		s.Send("x", sizedFrame(markMAC(3), markMAC(1), i, 64))
		if i%20 == 0 {
			s.Send("y", sizedFrame(markMAC(0), markMAC(2), sentY, 64))
			sentY++
		}
	}
	for i := 0; i < sentY; i++ {
		if start+time.Duration(i*20)*step+time.Second <= s.Now() {
			dueY++
		}
	}
	if got := len(s.Received("p")); got != dueY {
		t.Errorf("p received %d of y's frames by %v, want the %d past their delay", got, s.Now()-start, dueY)
	}
	if got := s.Stats("y").Pauses.Load(); got != 0 {
		t.Errorf("y paused %d times by traffic to a port that does not pause, want 0", got)
	}
	if got := s.Stats("d").Drops(hub.DropDelayFull); got == 0 {
		t.Errorf("d counted no delay-full drop with more than half the delay bound in flight for it")
	}
	s.Drain()
	if got := len(s.Received("p")); got != sentY {
		t.Errorf("p received %d of y's %d frames in all; drops %v", got, sentY, s.Stats("p").Snapshot().Drops)
	}
}

// TestDelayBoundPausesSender: a copy for a pausing port that has no frame
// delayed for it, refused because the hub's delayed frames reached the
// bound, pauses its sender once, until the mark is lowered: not a pause
// and a resume per dropped frame.
func TestDelayBoundPausesSender(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	resumes := map[hub.PortID]int{}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, Stall: time.Hour, MaxDelayedFrames: 8,
		Policy:   delayLinks{"a>b": time.Millisecond, "y>p": time.Millisecond},
		OnResume: func(id hub.PortID) { resumes[id]++ }})
	var ids [4]hub.PortID
	for i, n := range []string{"a", "b", "p", "y"} {
		ids[i], _ = c.AddPort(n, "", hub.Discard{})
	}
	a, p, y := ids[0], ids[2], ids[3]
	for range 8 { // the bound: a's frames for b, a held on b from the high mark
		c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macA, "a")))
	}
	if f, _ := c.Delayed(); f != 8 {
		t.Fatalf("got Delayed() = %d, want the bound, 8", f)
	}
	if fl := c.Flow(ids[1]); !fl.DelayHeld || !fl.DelayHub {
		t.Errorf("got b's Flow() DelayHeld, DelayHub = %v, %v at the hub-wide mark, want true, true", fl.DelayHeld, fl.DelayHub)
	}
	for range 5 {
		c.Ingress(y, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macB, "y")))
	}
	if got := c.Stats(p).Drops(hub.DropDelayFull); got != 5 {
		t.Errorf("p counted %d delay-full drops, want 5", got)
	}
	if !c.Paused(y) {
		t.Errorf("y not paused with its copies refused at the delay bound")
	}
	if got := c.Stats(y).Pauses.Load(); got != 1 {
		t.Errorf("got y's Pauses = %d, want 1", got)
	}
	if resumes[y] != 0 {
		t.Errorf("y resumed %d times while the bound is reached, want 0", resumes[y])
	}
	clock.Advance(time.Millisecond)
	c.RunDue()
	if c.Paused(y) || c.Paused(a) {
		t.Errorf("got Paused(y), Paused(a) = %v, %v with nothing delayed, want false", c.Paused(y), c.Paused(a))
	}
	if resumes[y] != 1 {
		t.Errorf("y resumed %d times, want 1", resumes[y])
	}
	if fl := c.Flow(ids[1]); fl.DelayHeld || fl.DelayHub {
		t.Errorf("got b's Flow() DelayHeld, DelayHub = %v, %v with nothing delayed, want false, false", fl.DelayHeld, fl.DelayHub)
	}
}

// batchSink takes every frame at once and remembers the drain watch.
type batchSink struct {
	taken uint64
	low   int
}

func (s *batchSink) Enqueue(f *hub.Frame)  { s.taken++; f.Release() }
func (s *batchSink) Depth() hub.QueueDepth { return hub.QueueDepth{Taken: s.taken} }
func (s *batchSink) WatchDrain(l int)      { s.low = l }

// TestDelayMarkRoomHoldsManyBroadcasters: ports in hub mode, every link
// under a delay, each port broadcasting 64-frame batches and looking at
// Paused after each frame, as a live reader does: what the senders paused
// at once still send (a frame each, a copy per other port) fits the room
// above the hub-wide mark, so nothing is dropped and no one stays paused.
// 64 ports send 64 × 63 copies past the mark; forwarded whole, their
// batches (64 × 64 × 63 copies) would overrun it.
func TestDelayMarkRoomHoldsManyBroadcasters(t *testing.T) {
	const n = 64
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, Policy: delayAll(100 * time.Millisecond), Stall: time.Hour})
	ids := make([]hub.PortID, n)
	sinks := make([]*batchSink, n)
	for i := range n {
		sinks[i] = &batchSink{low: -1}
		ids[i], _ = c.AddPort(fmt.Sprintf("p%02d", i), "", sinks[i])
	}
	drained := func() {
		for i, s := range sinks {
			if s.low >= 0 {
				c.Drained(ids[i])
			}
		}
	}
	paused := 0
	for range 300 {
		for i, id := range ids {
			if c.Paused(id) {
				paused++
				continue
			}
			for range 64 {
				c.Ingress(id, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, markMAC(i), "x")))
				if c.Paused(id) {
					break
				}
			}
		}
		clock.Advance(time.Millisecond)
		c.RunDue()
		drained()
	}
	if paused == 0 {
		t.Errorf("no sender was ever paused: the test does not reach the mark")
	}
	for range 3 {
		clock.Advance(100 * time.Millisecond)
		c.RunDue()
		drained()
	}
	for i, id := range ids {
		if got := c.Stats(id).Drops(hub.DropDelayFull); got != 0 {
			t.Errorf("port %d counted %d delay-full drops, want 0", i, got)
		}
		if c.Paused(id) || c.Flow(id).DelayHeld {
			t.Errorf("port %d still paused (%v) or delay-held (%v) with nothing delayed", i, c.Paused(id), c.Flow(id).DelayHeld)
		}
	}
}
