package hub_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// Frames a delay rule holds in the timer heap wait for their port as much
// as its queue does: they count toward its congestion, so a delay on a
// link whose receiver reads slower than its sender sends pauses the sender
// instead of losing what comes due to backlog-full.

// inOrder checks that got holds frames 0..n-1 as sent by seqFrame, in order.
func inOrder(t *testing.T, got []hubtest.Delivery, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("b received %d of %d frames", len(got), n)
	}
	for i, d := range got {
		if seq := binary.BigEndian.Uint32(d.Frame[14:]); seq != uint32(i) {
			t.Fatalf("frame %d of b's is a's frame %d: lost, duplicated or out of order", i, seq)
		}
	}
}

func seqFrame(i int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(i))
	return hubtest.Frame(macB, macA, string(b[:]))
}

// seqOf is the number seqFrame put in f.
func seqOf(f []byte) int { return int(binary.BigEndian.Uint32(f[14:])) }

func TestDelayedFramesCountTowardCongestion(t *testing.T) {
	for _, tc := range []struct {
		name           string
		delay, stall   time.Duration
		every, readsAt time.Duration // a sends one frame per every; b reads one per readsAt
		n              int
	}{
		// b reads at half a's rate throughout: what a delay holds comes
		// due faster than b reads it.
		{"slow-reader", 200 * time.Millisecond, time.Hour, 10 * time.Microsecond, 20 * time.Microsecond, 30_000},
		// b keeps up, and a's frames wait out a delay longer than the
		// stall time: b's peer, with nothing to read, is not stalled.
		{"delay-beyond-stall", time.Second, 100 * time.Millisecond, time.Microsecond, time.Microsecond, 20_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := learnSim(t, hubtest.Config{Stall: tc.stall, Policy: delayAll(tc.delay)})
			s.SetReadEvery("b", tc.readsAt)
			for i := range tc.n {
				s.SendAt(time.Duration(i+1)*tc.every, "a", seqFrame(i))
			}
			s.Drain()
			st := s.Stats("b").Snapshot()
			if len(st.Drops) != 0 || st.Stalls != 0 {
				t.Errorf("b (reading throughout) dropped %v, stalled %d times; want nothing lost", st.Drops, st.Stalls)
			}
			if s.Stats("a").Pauses.Load() == 0 {
				t.Errorf("a was never paused")
			}
			inOrder(t, s.Received("b"), tc.n)
			if n, _ := s.Core().Delayed(); n != 0 || s.Paused("a") {
				t.Errorf("after the run: %d frames delayed, a paused %v", n, s.Paused("a"))
			}
			b, _ := s.Core().Lookup("b")
			if fl := s.Core().Flow(b); fl.Delayed != 0 || fl.DelayedBytes != 0 {
				t.Errorf("after the run: Flow(b) delayed %d, %d bytes; want 0, 0", fl.Delayed, fl.DelayedBytes)
			}
		})
	}
}

// TestDelayKeepsItsBandwidth: a delay rule on a link whose receiver keeps
// up holds up to the second mark in flight (the queue's high-water mark
// plus half the backlog), not just the high-water mark: the link carries
// that much per delay, and a sender is paused only past it.
func TestDelayKeepsItsBandwidth(t *testing.T) {
	const queue = 16
	s := learnSim(t, hubtest.Config{QueueLen: queue, Stall: time.Hour, Policy: delayAll(time.Second)})
	second := queue + hub.DefaultBacklog/2
	for i := range second - 1 {
		s.Send("a", seqFrame(i))
	}
	if s.Paused("a") {
		t.Fatalf("a paused with %d frames in flight, below the second mark %d", second-1, second)
	}
	s.Send("a", seqFrame(second-1))
	if !s.Paused("a") {
		t.Fatalf("a not paused with %d frames in flight, the second mark", second)
	}
	s.Send("a", seqFrame(second)) // held by a's peer until b has read
	s.Drain()
	inOrder(t, s.Received("b"), second+1)
	if d := s.Stats("b").Snapshot().Drops; len(d) != 0 {
		t.Errorf("b dropped %v", d)
	}
	b, _ := s.Core().Lookup("b")
	if fl := s.Core().Flow(b); fl.Delayed != 0 || fl.DelayedBytes != 0 || s.Paused("a") {
		t.Errorf("after the run: Flow(b) delayed %d, %d bytes, a paused %v; want 0, 0, not paused", fl.Delayed, fl.DelayedBytes, s.Paused("a"))
	}
}

// TestNoPushbackUsesTheBacklog: a sender that cannot be pushed back (a UDP
// or multicast VM, a VXLAN overlay) is not paused at a port's high-water
// mark, where pausing would only move its loss into its socket buffer: its
// frames use the port's backlog, and it is paused at the second mark. A
// sender that can be pushed back is paused at the high-water mark as
// before. Nothing is lost either way.
func TestNoPushbackUsesTheBacklog(t *testing.T) {
	const queue = 64
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, QueueLen: queue, Stall: time.Hour})
	s.AddPortWith(t, "u", hub.PortOptions{NoPushback: true})
	s.SetReading("a", false)
	s.SetReading("b", false)
	burst := 10 * queue
	for i := range burst {
		s.Send("u", hubtest.Frame(hubtest.Broadcast, macC, fmt.Sprint(i)))
	}
	if s.Paused("u") || s.Queued("b") != burst {
		t.Fatalf("after a burst of %d: u paused %v, b holds %d; want u going on, its burst in b's backlog", burst, s.Paused("u"), s.Queued("b"))
	}
	s.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "a"))
	if !s.Paused("a") {
		t.Errorf("a, which can be pushed back, is not paused with b above its high-water mark")
	}
	second := queue + hub.DefaultBacklog/2
	for i := burst; !s.Paused("u") && i < 2*second; i++ {
		s.Send("u", hubtest.Frame(hubtest.Broadcast, macC, fmt.Sprint(i)))
	}
	if !s.Paused("u") || s.Queued("b") != second {
		t.Errorf("u paused %v with b holding %d frames; want it paused at b's second mark, %d", s.Paused("u"), s.Queued("b"), second)
	}
	s.Send("u", hubtest.Frame(hubtest.Broadcast, macC, "held"))
	s.SetReading("a", true)
	s.SetReading("b", true)
	s.Drain()
	if s.Paused("u") || s.Paused("a") || s.Held("u") != 0 {
		t.Errorf("after b read: u paused %v holding %d, a paused %v", s.Paused("u"), s.Held("u"), s.Paused("a"))
	}
	for _, p := range []string{"a", "b", "u"} {
		if d := s.Stats(p).Snapshot().Drops; len(d) != 0 {
			t.Errorf("port %s dropped %v", p, d)
		}
	}
}

// TestDelayedFramesDoNotAllocate: counting delayed frames toward their
// port's congestion, and holding their sender back for them, costs no
// allocation (a congestion's start costs its stall check, once).
func TestDelayedFramesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Backlog: 8, Stall: time.Hour,
		Policy: delayAll(time.Millisecond), Observers: []hub.Observer{nopObserver{}}})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", &countQueue{}) // its peer reads nothing: one congestion throughout
	frame := hubtest.Frame(macB, macA, "x")
	send := func() {
		for range 16 {
			c.Ingress(a, hub.FrameOf(frame))
		}
		clock.Advance(time.Millisecond)
		c.RunDue()
	}
	send()
	if !c.Paused(a) || !c.Flow(b).Congested {
		t.Fatalf("a paused %v, b %+v; want b congested, a held", c.Paused(a), c.Flow(b))
	}
	if n := testing.AllocsPerRun(100, send); n != 0 {
		t.Errorf("got %v allocations per 16 delayed frames, want 0", n)
	}
}

// delayAB delays the copies on link a->b only.
type delayAB time.Duration

func (d delayAB) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	if l.FromName == "a" && l.ToName == "b" {
		dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Duration(d)})
	}
}

// TestDelayHoldsOnlyItsSenders: frames a delay holds for b past b's second
// mark pause the sender whose frames they are, a, and no one else. b's
// queue is empty and its peer reads at once, so c (whose frames to b are
// not delayed), u (which cannot be pushed back) and an injection into b
// go on, and b is not congested.
func TestDelayHoldsOnlyItsSenders(t *testing.T) {
	s := learnSim(t, hubtest.Config{Stall: 100 * time.Millisecond, Policy: delayAB(10 * time.Second)})
	s.AddPortWith(t, "u", hub.PortOptions{NoPushback: true})
	macU := hubtest.MAC("02:00:00:00:00:0e")
	s.Send("u", hubtest.Frame(hubtest.Broadcast, macU, "hello"))
	s.Drain()
	for _, p := range []string{"a", "b", "c"} {
		s.Take(p)
	}
	second := hub.DefaultQueueLen + hub.DefaultBacklog/2
	for i := range second {
		s.Send("a", seqFrame(i))
	}
	b, _ := s.Core().Lookup("b")
	if !s.Paused("a") {
		t.Fatalf("a not paused with %d frames delayed for b, its second mark", second)
	}
	if s.Core().Congested(b) {
		t.Errorf("got Congested(b) = true with an empty queue and only delayed frames, want false (an injection would wait for them)")
	}
	s.Send("c", hubtest.Frame(macB, macC, "c to b"))
	s.Send("u", hubtest.Frame(macB, macU, "u to b"))
	if s.Paused("c") || s.Paused("u") {
		t.Errorf("got c paused %v, u paused %v by a's delayed frames; want neither", s.Paused("c"), s.Paused("u"))
	}
	if got := len(s.Take("b")); got != 2 {
		t.Errorf("b received %d frames before the delay, want c's and u's 2", got)
	}
	s.Advance(5 * time.Second)
	if !s.Paused("a") || s.Core().Flow(b).Stalled {
		t.Errorf("half-way through the delay: a paused %v, b stalled %v; want a paused, b waiting", s.Paused("a"), s.Core().Flow(b).Stalled)
	}
	s.Drain()
	if fl := s.Core().Flow(b); s.Paused("a") || fl.Delayed != 0 || fl.DelayedBytes != 0 {
		t.Errorf("after the delay: a paused %v, Flow(b) delayed %d, %d bytes; want not paused, 0, 0", s.Paused("a"), fl.Delayed, fl.DelayedBytes)
	}
	inOrder(t, s.Received("b"), second)
}

// delayCut delays a->b and, from cutAt on, cuts a->b (a partition) or,
// with down, every link to or from b (b's link down).
type delayCut struct {
	cutAt time.Duration
	down  bool
}

func (p delayCut) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	if l.FromName == "a" && l.ToName == "b" {
		dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Second})
	}
}

func (p delayCut) Cut(_, now time.Duration, l hub.Link) (hub.Note, bool) {
	switch {
	case now < p.cutAt:
	case p.down && (l.FromName == "b" || l.ToName == "b"):
		return hub.Note{Action: "down"}, true
	case !p.down && l.FromName == "a" && l.ToName == "b":
		return hub.Note{Action: "partition"}, true
	}
	return hub.Note{}, false
}

// TestDelayedCountsReturnToZero: the frames a delay holds for b count
// toward b's second mark (Flow's Delayed, DelayedBytes) until they leave the
// timer heap, however they leave it, and a, paused by them, resumes then:
// nothing else would resume it (its port's queue is empty, so it is never
// stalled; the stall time here is an hour).
func TestDelayedCountsReturnToZero(t *testing.T) {
	second := hub.DefaultQueueLen + hub.DefaultBacklog/2
	for _, tc := range []struct {
		name   string
		policy hub.Policy
		// then acts half-way through the delay; the delay then runs out.
		then      func(s *hubtest.Sim, b hub.PortID)
		delivered int // of a's frames, to b
	}{
		{"due-and-delivered", delayAB(time.Second), func(*hubtest.Sim, hub.PortID) {}, second},
		{"dropped-at-a-cut-link", delayCut{cutAt: 500 * time.Millisecond}, func(*hubtest.Sim, hub.PortID) {}, 0},
		{"dropped-at-a-down-link", delayCut{cutAt: 500 * time.Millisecond, down: true}, func(*hubtest.Sim, hub.PortID) {}, 0},
		{"destination-detached", delayAB(time.Second), func(s *hubtest.Sim, b hub.PortID) {
			if err := s.Core().SetEgress(b, nil); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"policy-swapped", delayAB(time.Second), func(s *hubtest.Sim, _ hub.PortID) {
			s.Core().SetPolicy(delayAll(0))
		}, second},
		{"shutdown", delayAB(time.Second), func(s *hubtest.Sim, _ hub.PortID) { s.Core().Close() }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := learnSim(t, hubtest.Config{Stall: time.Hour, Policy: tc.policy})
			t0 := s.Now()
			for i := range second {
				s.Send("a", seqFrame(i))
			}
			b, _ := s.Core().Lookup("b")
			fl := s.Core().Flow(b)
			if !s.Paused("a") || fl.Delayed != second || fl.DelayedBytes != second*footprint(seqFrame(0)) {
				t.Fatalf("with %d frames delayed: a paused %v, Flow(b) delayed %d, %d bytes; want paused, %d, %d",
					second, s.Paused("a"), fl.Delayed, fl.DelayedBytes, second, second*footprint(seqFrame(0)))
			}
			if j, _ := json.Marshal(fl); !strings.Contains(string(j), fmt.Sprintf(`"delayed":%d,`, second)) {
				t.Errorf("got Flow(b) as JSON (ctl ports) %s, want \"delayed\":%d", j, second)
			}
			s.AdvanceTo(t0 + 500*time.Millisecond)
			tc.then(s, b)
			s.AdvanceTo(t0 + time.Second + time.Millisecond)
			if fl := s.Core().Flow(b); fl.Delayed != 0 || fl.DelayedBytes != 0 {
				t.Errorf("after the delay: Flow(b) delayed %d, %d bytes; want 0, 0", fl.Delayed, fl.DelayedBytes)
			}
			if n, nb := s.Core().Delayed(); n != 0 || nb != 0 {
				t.Errorf("after the delay: Delayed() = %d, %d; want 0, 0", n, nb)
			}
			if s.Paused("a") && tc.name != "shutdown" { // a stopped hub resumes no one
				t.Errorf("a still paused after its delayed frames left the timer heap")
			}
			s.Drain()
			if got := len(s.Received("b")); got != tc.delivered {
				t.Errorf("b received %d of a's frames, want %d", got, tc.delivered)
			}
		})
	}
}

// askedGate delays a->b by a second and records what the core asks it.
type askedGate struct{ asked *[][2]time.Duration }

func (askedGate) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	if l.FromName == "a" && l.ToName == "b" {
		dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Second})
	}
}

func (g askedGate) Cut(sent, now time.Duration, l hub.Link) (hub.Note, bool) {
	if l.FromName == "a" && l.ToName == "b" {
		*g.asked = append(*g.asked, [2]time.Duration{sent, now})
	}
	return hub.Note{}, false
}

// TestGateAskedOverTheWholeWait: when a delayed copy is due, the core asks
// its Gate about the link from the time the copy was decided to the time
// it is due, so that a cut in between, over by then, still loses it.
func TestGateAskedOverTheWholeWait(t *testing.T) {
	var asked [][2]time.Duration
	s := learnSim(t, hubtest.Config{Policy: askedGate{&asked}})
	s.Drain() // the hellos learnSim sends
	asked = nil
	t0 := s.Now()
	s.SendAt(t0+250*time.Millisecond, "a", seqFrame(1))
	s.Drain()
	want := [2]time.Duration{t0 + 250*time.Millisecond, t0 + 1250*time.Millisecond}
	if len(asked) != 1 || asked[0] != want {
		t.Errorf("got Cut asked about a->b over %v, want once over %v", asked, want)
	}
}

// cutAt cuts every link to port to from policy time from on (its link
// taken down), and delays c's frames by half a second.
type cutAt struct {
	to   string
	from time.Duration
}

func (g cutAt) Decide(now time.Duration, l hub.Link, _ []byte, d *hub.Decision) {
	if _, cut := g.Cut(now, now, l); cut {
		d.Drop = true
		return
	}
	if l.FromName == "c" {
		d.Copies = append(d.Copies, hub.Copy{Delay: 500 * time.Millisecond})
	}
}

func (g cutAt) Cut(_, now time.Duration, l hub.Link) (hub.Note, bool) {
	if now >= g.from && l.ToName == g.to {
		return hub.Note{Action: "down", Detail: "port " + g.to}, true
	}
	return hub.Note{}, false
}

// TestCutSparesQueuedCopies pins when a cut decides (README, Flow control):
// when the hub reads a frame. a's VM sends 10 frames to b, whose VM reads
// nothing, so a few wait in b's queue and the rest in a's socket (a is
// paused); c's one frame to b waits out a delay. b's link goes down at 1s
// and its VM reads at 2s. The copies queued before the cut are on their
// way, as bytes in a socket buffer, and reach b's VM after it; the frames
// the hub reads from a's socket after the cut are dropped as policy; c's
// delayed copy is on the wire and the cut loses it.
func TestCutSparesQueuedCopies(t *testing.T) {
	s := learnSim(t, hubtest.Config{QueueLen: 4, Stall: time.Hour, Policy: cutAt{to: "b", from: time.Second}})
	tx0 := s.Stats("b").TxFrames.Load() // learnSim's hellos
	s.SetReading("b", false)
	for i := range 10 {
		s.Send("a", seqFrame(i))
	}
	s.SendAt(900*time.Millisecond, "c", hubtest.Frame(macB, macC, "delayed"))
	queued, held := s.Queued("b"), s.Held("a")
	if !s.Paused("a") || queued < 4 || queued+held != 10 {
		t.Fatalf("setup: got a paused %v, %d queued for b, %d held in a's socket; want a paused, b's queue full, the rest held", s.Paused("a"), queued, held)
	}
	s.AdvanceTo(2 * time.Second)
	s.SetReading("b", true)
	s.Drain()
	got := s.Received("b")
	inOrder(t, got, queued)
	for _, d := range got {
		if d.Read < time.Second {
			t.Errorf("b's VM read a's frame %d at %v, want it read after the cut (at 2s)", seqOf(d.Frame), d.Read)
		}
	}
	st := s.Stats("b").Snapshot()
	if st.TxFrames-tx0 != uint64(queued) || st.Drops[hub.DropPolicy.String()] != uint64(held+1) || len(st.Drops) != 1 {
		t.Errorf("b: got tx %d, drops %v; want tx %d (queued before the cut), policy %d (%d read from a's socket after it, 1 delayed)",
			st.TxFrames-tx0, st.Drops, queued, held+1, held)
	}
	if s.Paused("a") || s.Held("a") != 0 {
		t.Errorf("a: got paused %v, %d held; want it resumed, its socket read", s.Paused("a"), s.Held("a"))
	}
}

// namedGate delays a->b by a second, records what the core asks it in a
// log shared with the gates that replace it (times since base), and cuts
// a->b when cut.
type namedGate struct {
	name string
	base time.Duration
	log  *[]string
	cut  bool
}

func (*namedGate) Decide(_ time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	if l.FromName == "a" && l.ToName == "b" {
		dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Second})
	}
}

func (g *namedGate) Cut(sent, now time.Duration, l hub.Link) (hub.Note, bool) {
	if l.FromName != "a" || l.ToName != "b" {
		return hub.Note{}, false
	}
	*g.log = append(*g.log, fmt.Sprintf("%s %v-%v", g.name, sent-g.base, now-g.base))
	return hub.Note{Action: "partition", Rule: g.name}, g.cut
}

// TestGateAnswersForItsOwnTime: a copy that waits across set-policies is
// asked of every policy in force while it waited, each about the part of
// the wait it was in force (oldest first, until one cuts it); a policy
// replaced before a copy was sent is not asked about it. A set-policy the
// core gets to before the timer of a copy due by then fires that timer
// first, under the policy it replaces alone.
func TestGateAnswersForItsOwnTime(t *testing.T) {
	ms := time.Millisecond
	type swap struct {
		at  time.Duration // since the hellos; late: without firing timers due by then
		cut bool          // the new gate cuts a->b
	}
	for _, tc := range []struct {
		name      string
		swaps     []swap
		late      bool // the swaps come with the clock past the copy's due time
		cut0      bool // the first gate cuts a->b
		want      string
		delivered int
	}{
		{"no-swap", nil, false, false, "g0 250ms-1.25s", 1},
		{"one-swap", []swap{{600 * ms, false}}, false, false, "g0 250ms-600ms, g1 600ms-1.25s", 1},
		{"two-swaps", []swap{{600 * ms, false}, {800 * ms, false}}, false, false, "g0 250ms-600ms, g1 600ms-800ms, g2 800ms-1.25s", 1},
		{"new-gate-cuts", []swap{{600 * ms, true}}, false, false, "g0 250ms-600ms, g1 600ms-1.25s", 0},
		{"old-gate-cuts", []swap{{600 * ms, false}}, false, true, "g0 250ms-600ms", 0},
		{"swap-as-sent", []swap{{250 * ms, false}}, false, false, "g0 250ms-250ms, g1 250ms-1.25s", 1},
		{"swap-before-sent", []swap{{100 * ms, false}}, false, false, "g1 250ms-1.25s", 1},
		{"late-swap", []swap{{1400 * ms, false}}, true, false, "g0 250ms-1.25s", 1},
		{"late-swap-old-cuts", []swap{{1400 * ms, false}}, true, true, "g0 250ms-1.25s", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			g0 := &namedGate{name: "g0", log: &log}
			s := learnSim(t, hubtest.Config{Policy: g0})
			t0 := s.Now()
			g0.base, g0.cut, log = t0, tc.cut0, nil
			sent := false
			for i, sw := range tc.swaps {
				if sw.at >= 250*ms && !sent {
					s.SendAt(t0+250*ms, "a", seqFrame(1))
					sent = true
				}
				if tc.late {
					s.Clock.Set(s.Core().Start().Add(t0 + sw.at))
				} else {
					s.AdvanceTo(t0 + sw.at)
				}
				s.Core().SetPolicy(&namedGate{name: fmt.Sprintf("g%d", i+1), base: t0, log: &log, cut: sw.cut})
			}
			if !sent {
				s.SendAt(t0+250*ms, "a", seqFrame(1))
			}
			s.Core().RunDue() // late: the copy due before the swaps
			s.Drain()
			s.AdvanceTo(s.Now()) // b's peer reads what RunDue queued
			if got := strings.Join(log, ", "); got != tc.want {
				t.Errorf("got the gates asked %s, want %s", got, tc.want)
			}
			if got := len(s.Take("b")); got != tc.delivered {
				t.Errorf("b received %d frames, want %d", got, tc.delivered)
			}
		})
	}
}

// TestReplacedGateAskedAtTheSwitch: a policy SetPolicy replaces answers
// for the copies waiting at once (it sees no change after the switch), so
// the core keeps none of them: each is asked at the switch, about the
// copy's wait up to it, and a copy it cut is dropped when due.
func TestReplacedGateAskedAtTheSwitch(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		cuts      [2]bool // the gates replaced, oldest first: it cuts a->b
		want      string  // the gates asked, each @ when
		delivered int
	}{
		{"none-cuts", [2]bool{false, false}, "g0 250ms-600ms@600ms, g1 600ms-800ms@800ms, g2 800ms-1.25s@1.25s", 1},
		{"first-cuts", [2]bool{true, false}, "g0 250ms-600ms@600ms", 0},
		{"second-cuts", [2]bool{false, true}, "g0 250ms-600ms@600ms, g1 600ms-800ms@800ms", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			var s *hubtest.Sim
			var t0 time.Duration
			gate := func(name string, cut bool) *whenGate {
				return &whenGate{namedGate{name: name, base: t0, log: &log, cut: cut}, func() time.Duration {
					if s == nil {
						return 0 // the hellos, before the log starts
					}
					return s.Now() - t0
				}}
			}
			g0 := gate("g0", tc.cuts[0])
			s = learnSim(t, hubtest.Config{Policy: g0})
			t0 = s.Now()
			g0.base, log = t0, nil
			s.SendAt(t0+250*ms, "a", seqFrame(1))
			s.AdvanceTo(t0 + 600*ms)
			s.Core().SetPolicy(gate("g1", tc.cuts[1]))
			s.AdvanceTo(t0 + 800*ms)
			s.Core().SetPolicy(gate("g2", false))
			s.AdvanceTo(t0 + 2*time.Second)
			if got := strings.Join(log, ", "); got != tc.want {
				t.Errorf("got the gates asked %s, want %s", got, tc.want)
			}
			if got := len(s.Take("b")); got != tc.delivered {
				t.Errorf("b received %d frames, want %d", got, tc.delivered)
			}
		})
	}
}

// whenGate is a namedGate that logs when it was asked, too.
type whenGate struct {
	namedGate
	now func() time.Duration
}

func (g *whenGate) Cut(sent, now time.Duration, l hub.Link) (hub.Note, bool) {
	n, cut := g.namedGate.Cut(sent, now, l)
	if l.FromName == "a" && l.ToName == "b" {
		(*g.log)[len(*g.log)-1] += fmt.Sprintf("@%v", g.now())
	}
	return n, cut
}

// TestReplacedPoliciesAreNotKept: set-policies made while a copy waits
// leave no replaced policy reachable from the core, however many there
// are and however long the copy waits.
func TestReplacedPoliciesAreNotKept(t *testing.T) {
	var log []string
	s := learnSim(t, hubtest.Config{Policy: &namedGate{name: "g0", log: &log}})
	s.SendAt(s.Now()+time.Millisecond, "a", seqFrame(1)) // waits 1s (namedGate's delay)
	var replaced []weak.Pointer[namedGate]
	for i := range 50 {
		s.AdvanceTo(s.Now() + 10*time.Millisecond)
		g := &namedGate{name: fmt.Sprintf("g%d", i+1), log: &log}
		s.Core().SetPolicy(g)
		replaced = append(replaced, weak.Make(g))
	}
	if s.Core().Pending() == 0 {
		t.Fatal("the copy is no longer waiting: the test proves nothing")
	}
	runtime.GC()
	kept := 0
	for _, w := range replaced[:len(replaced)-1] { // the last is in force
		if w.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("got %d replaced policies still reachable while the copy waits, want 0", kept)
	}
}

// TestSetPolicyAtSwitchesAtTheTimeGiven: a caller that read the clock to
// record the switch (serve, for the capture) switches at that instant,
// though the clock has moved on since: the replaced policy answers up to
// it and the new one from it, as replay, switching there, has them.
func TestSetPolicyAtSwitchesAtTheTimeGiven(t *testing.T) {
	ms := time.Millisecond
	var log []string
	var s *hubtest.Sim
	var t0 time.Duration
	gate := func(name string) *namedGate { return &namedGate{name: name, base: t0, log: &log} }
	g0 := gate("g0")
	s = learnSim(t, hubtest.Config{Policy: g0})
	t0 = s.Now()
	g0.base, log = t0, nil
	s.SendAt(t0+250*ms, "a", seqFrame(1))
	s.AdvanceTo(t0 + 600*ms)
	at := s.Core().Start().Add(t0 + 600*ms)
	s.Clock.Set(at.Add(5 * time.Microsecond)) // the clock read again would say this
	s.Core().SetPolicyAt(gate("g1"), at)
	s.AdvanceTo(t0 + 2*time.Second)
	if got, want := strings.Join(log, ", "), "g0 250ms-600ms, g1 600ms-1.25s"; got != want {
		t.Errorf("got the gates asked %s, want %s", got, want)
	}
}
