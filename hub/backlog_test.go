package hub_test

import (
	"fmt"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// What waits for a pausing port is bounded above its high-water mark by a
// slack that absorbs what the senders send after they were told to stop. The
// core is fed a batch of frames whole, Paused looked at only between
// batches: more than a live Hub's reader sends past a mark (it looks after
// each frame), so what holds here holds there.

// countQueue is an egress queue whose peer reads nothing: it counts what the
// core queued and lets the frames go (only its depth matters).
type countQueue struct {
	frames, bytes int
	taken         uint64
	sizes         []int // of the frames waiting, oldest first, when keep is set
	keep          bool
}

func (q *countQueue) Enqueue(f *hub.Frame) {
	q.frames++
	q.bytes += f.Footprint()
	if q.keep {
		q.sizes = append(q.sizes, f.Footprint())
	}
	f.Release()
}
func (q *countQueue) Depth() hub.QueueDepth {
	return hub.QueueDepth{Frames: q.frames, Bytes: q.bytes, Taken: q.taken}
}
func (q *countQueue) WatchDrain(int) {}

// take is the peer reading the oldest frame (keep must be set).
func (q *countQueue) take() {
	q.frames--
	q.bytes -= q.sizes[0]
	q.sizes = q.sizes[1:]
	q.taken++
}

// readBatch is a read batch as large as Hub.reader reads (at most 64
// frames): one that does not divide the queue lengths, so a batch
// straddles the high-water mark.
const readBatch = 63

// broadcast returns a broadcast frame of size bytes from the port numbered id.
func broadcast(size int, id byte) *hub.Frame {
	f := hub.NewFrame(size)
	b := f.Bytes()
	clear(b)
	copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, id})
	return f
}

// feedBatch forwards one read batch from port from.
func feedBatch(c *hub.Core, from hub.PortID, size, n int) {
	for range n {
		c.Ingress(from, broadcast(size, byte(from)))
	}
}

// unicast returns a frame of size bytes to the port numbered to from the
// port numbered from (their MACs end in their numbers).
func unicast(size int, to, from hub.PortID) *hub.Frame {
	f := hub.NewFrame(size)
	b := f.Bytes()
	clear(b)
	copy(b, []byte{0x02, 0, 0, 0, byte(to >> 8), byte(to), 0x02, 0, 0, 0, byte(from >> 8), byte(from)})
	return f
}

// TestPauseHoldsTheLastBatch: a sender whose batches fill a port that
// reads nothing yet is paused before the port drops anything, whatever the
// port's queue length and the frame size: the bound is the high-water mark
// plus a slack, never the high-water mark itself, and bytes pause a sender
// too, before the byte bound is reached.
func TestPauseHoldsTheLastBatch(t *testing.T) {
	for _, tc := range []struct{ queue, size int }{
		{256, 64}, {4096, 64}, {8192 - 32, 64}, {8192, 64}, {8200, 64}, {10000, 64},
		{8192, 1500}, {50000, 1500}, {8000, 9000}, {1024, 65536},
	} {
		t.Run(fmt.Sprintf("queue=%d/size=%d", tc.queue, tc.size), func(t *testing.T) {
			c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), QueueLen: tc.queue, Stall: time.Hour})
			a, _ := c.AddPort("a", "", hub.Discard{})
			q := &countQueue{}
			b, _ := c.AddPort("b", "", q)
			sent := 0
			for !c.Paused(a) && sent < 400_000 {
				feedBatch(c, a, tc.size, readBatch)
				sent += readBatch
			}
			if !c.Paused(a) {
				t.Errorf("a sent %d frames to a port that reads nothing (it queued %d, %d bytes) and is not paused", sent, q.frames, q.bytes)
			}
			if d := c.Stats(b).Snapshot().Drops; len(d) != 0 {
				t.Errorf("b dropped %v of the %d frames a sent before it was paused (queued %d, %d bytes); want none", d, sent, q.frames, q.bytes)
			}
		})
	}
}

// TestIncastPausesEverySender: many senders, a batch each in turn, to one
// port that reads nothing: each is paused, and a frame beyond the bound
// (more senders than the slack holds batches of) pauses its sender too, so
// each loses at most the rest of one batch, never more.
func TestIncastPausesEverySender(t *testing.T) {
	for _, tc := range []struct{ queue, senders int }{{256, 4}, {8000, 4}, {256, 200}} {
		t.Run(fmt.Sprintf("queue=%d/senders=%d", tc.queue, tc.senders), func(t *testing.T) {
			if testing.Short() && tc.senders > 4 {
				t.Skip("-short")
			}
			c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), QueueLen: tc.queue, Stall: time.Hour})
			r, _ := c.AddPort("r", "", &countQueue{})
			var senders []hub.PortID
			for i := range tc.senders {
				id, _ := c.AddPort(fmt.Sprintf("s%03d", i), "", hub.Discard{})
				senders = append(senders, id)
			}
			c.Ingress(r, unicast(64, 0xffff, r)) // the switch learns r
			sent := make(map[hub.PortID]int)
			for round := 0; round < 1000; round++ {
				active := 0
				for _, s := range senders {
					if !c.Paused(s) {
						active++
						for range readBatch - 1 {
							c.Ingress(s, unicast(64, r, s))
						}
						sent[s] += readBatch - 1
					}
				}
				if active == 0 {
					break
				}
			}
			for _, s := range senders {
				if !c.Paused(s) {
					t.Errorf("sender %s: sent %d frames and is not paused", c.PortName(s), sent[s])
				}
			}
			lost := c.Stats(r).Drops(hub.DropBacklogFull)
			if tc.senders*(readBatch-1) <= tc.queue+hub.DefaultBacklog && lost != 0 {
				t.Errorf("r dropped %d frames as backlog-full; the %d senders' batches fit its bound", lost, tc.senders)
			}
			if lost > uint64(tc.senders*(readBatch-1)) {
				t.Errorf("r dropped %d frames, more than one batch per sender", lost)
			}
			if d := c.Stats(r).Snapshot().Drops; len(d) > 1 || len(d) == 1 && lost == 0 {
				t.Errorf("r's drops %v; want backlog-full at most", d)
			}
		})
	}
}

// TestBacklogFullPausesItsSender: a sender whose first frame for a port
// finds the port's backlog full is paused by that frame, so it loses the
// rest of one batch at most, not everything it sends for as long as the
// port is full.
func TestBacklogFullPausesItsSender(t *testing.T) {
	const queue, slack = 256, 300
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch),
		QueueLen: queue, Backlog: slack, Stall: time.Hour})
	q := &countQueue{}
	b, _ := c.AddPort("b", "", q)
	a, _ := c.AddPort("a", "", hub.Discard{})
	x, _ := c.AddPort("x", "", hub.Discard{})
	for c.Stats(b).Drops(hub.DropBacklogFull) == 0 && q.frames < 10*(queue+slack) {
		feedBatch(c, a, 64, 1) // a's peer ignores its pause: b fills to its bound
	}
	full := c.Stats(b).Drops(hub.DropBacklogFull)
	if full != 1 {
		t.Fatalf("b holds %d frames and dropped %d; want it full", q.frames, full)
	}
	if q.frames != queue+slack {
		t.Errorf("b held %d frames at its first backlog-full drop, want exactly QueueLen+Backlog = %d", q.frames, queue+slack)
	}
	feedBatch(c, x, 64, 1)
	if got := c.Stats(b).Drops(hub.DropBacklogFull) - full; got != 1 {
		t.Errorf("b dropped %d of x's frames as backlog-full, want 1", got)
	}
	if !c.Paused(x) {
		t.Errorf("x's frame was dropped at b's bound and x is not paused")
	}
}

// TestBacklogBytesBound: a pausing port's queue holds frames up to
// BacklogBytes of buffers and no more: the frame that would take it past
// is dropped, not the one after, so the memory bound holds exactly.
func TestBacklogBytesBound(t *testing.T) {
	const frames = 64
	fp := hub.NewFrame(64).Footprint()
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch),
		QueueLen: 100 * frames, Backlog: 100 * frames, BacklogBytes: frames * fp, Stall: time.Hour})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &countQueue{}
	b, _ := c.AddPort("b", "", q)
	for range frames + 1 {
		feedBatch(c, a, 64, 1) // a's peer ignores its pause
	}
	if q.frames != frames || q.bytes != frames*fp || c.Stats(b).Drops(hub.DropBacklogFull) != 1 {
		t.Errorf("b queued %d frames (%d bytes) and dropped %d as backlog-full; want %d (%d bytes), and the last dropped",
			q.frames, q.bytes, c.Stats(b).Drops(hub.DropBacklogFull), frames, frames*fp)
	}
}

// TestByteMarks: a port's queue of large frames pauses its senders at the
// byte high-water mark, well before its frame mark, and lets them go only
// at the byte low-water mark, not as soon as a frame is read: one pause,
// no flapping, and nothing lost.
func TestByteMarks(t *testing.T) {
	const budget = 1 << 20 // BacklogBytes: high-water a quarter, low-water an eighth
	const size = 1000
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch),
		QueueLen: 100_000, BacklogBytes: budget, Stall: time.Hour})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &countQueue{keep: true}
	b, _ := c.AddPort("b", "", q)
	for sent := 0; !c.Paused(a) && sent < 10_000; sent++ {
		c.Ingress(a, broadcast(size, 1))
	}
	if !c.Paused(a) || q.bytes < budget/4 || q.bytes > budget/4+2048 { // a 1000-byte frame holds 2048
		t.Fatalf("a paused %v with %d bytes queued; want it paused at the byte high-water mark, %d", c.Paused(a), q.bytes, budget/4)
	}
	for q.bytes > budget/8 {
		q.take()
		c.Drained(b)
		if !c.Paused(a) && q.bytes > budget/8 {
			t.Fatalf("a resumed with %d bytes queued, above the byte low-water mark %d", q.bytes, budget/8)
		}
	}
	if c.Paused(a) {
		t.Fatalf("a still paused with %d bytes queued, at the byte low-water mark", q.bytes)
	}
	for range 10 {
		c.Ingress(a, broadcast(size, 1))
	}
	if c.Paused(a) || c.Stats(a).Pauses.Load() != 1 {
		t.Errorf("after resuming: paused %v, %d pauses; want 1, over", c.Paused(a), c.Stats(a).Pauses.Load())
	}
	if d := c.Stats(b).Snapshot().Drops; len(d) != 0 {
		t.Errorf("b dropped %v", d)
	}
}

// TestByteMarksCountBuffers: the byte marks bound the memory a queue
// holds. Frames of 9300 bytes, just over the jumbo class, each hold a
// 69 636-byte buffer: the sender pauses once their buffers, not their
// lengths, reach the byte high-water mark.
func TestByteMarksCountBuffers(t *testing.T) {
	const high = hub.DefaultBacklogBytes / 4
	s := learnSim(t, hubtest.Config{QueueLen: 100_000, Stall: time.Hour})
	s.SetReading("b", false)
	frame := hubtest.Frame(macB, macA, string(make([]byte, 9300-14)))
	const size = 69_636 // the largest class: a 69 632-byte frame and 4 bytes of headroom
	for sent := 0; !s.Paused("a") && sent < 10_000; sent++ {
		s.Send("a", frame)
	}
	if q := s.Queued("b"); !s.Paused("a") || q*size < high || q*size > high+size {
		t.Errorf("a paused %v with %d frames queued for b, holding %d bytes; want it paused at the byte high-water mark, %d",
			s.Paused("a"), q, q*size, high)
	}
}

// TestLargestFramesPauseAtTheByteMark: QEMU's largest frames pause their
// sender at the byte high-water mark (16 MiB: 240 buffers, below the
// 256-frame mark), and lose nothing, in order.
func TestLargestFramesPauseAtTheByteMark(t *testing.T) {
	s := learnSim(t, hubtest.Config{Stall: time.Hour})
	s.SetReading("b", false)
	const n = 600
	for i := range n {
		f := make([]byte, hub.DefaultMaxFrame)
		copy(f, seqFrame(i))
		s.Send("a", f)
	}
	if q := s.Queued("b"); !s.Paused("a") || q < 240 || q > 241 {
		t.Errorf("got a paused %v with %d queued for b, want paused at 240 (+1)", s.Paused("a"), q)
	}
	s.SetReading("b", true)
	got := s.Received("b")
	inOrder(t, got, n)
	for i, d := range got {
		if len(d.Frame) != hub.DefaultMaxFrame {
			t.Fatalf("got b's frame %d of %d bytes, want %d", i, len(d.Frame), hub.DefaultMaxFrame)
		}
	}
	if st := s.Stats("b").Snapshot(); len(st.Drops) != 0 {
		t.Errorf("b dropped %v, want nothing", st.Drops)
	}
}
