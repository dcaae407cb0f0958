package hub

// This file holds the core's queues: EgressQueue, through which the core
// hands a port's frames to its peer and reads the peer's progress
// (QueueDepth), with Discard, whose peer takes everything at once, and
// egress, the live hub's ring between the core and a port's writer
// goroutine. What fits in a queue is the core's to decide (flow.go).

import (
	"math/bits"
	"sync/atomic"
)

// EgressQueue holds the frames the core delivers to one port until the
// port's peer takes them: the writer's queue in a live hub, a reader at its
// own pace in hubtest, a sink that takes everything at once in replay. Its
// methods are called on the core's goroutine and must not block; the core,
// not the queue, decides what fits (see Overflow).
type EgressQueue interface {
	// Enqueue appends f, taking over one reference. It never refuses.
	Enqueue(f *Frame)
	// Depth reports what waits for the peer and how far the peer has read.
	Depth() QueueDepth
	// WatchDrain asks the queue's driver to call Core.Drained for this port
	// once at most low frames wait; a negative low cancels the request.
	WatchDrain(low int)
}

// A FrameLimiter is a peer that takes frames only up to a size smaller
// than what the hub accepts (a VXLAN port: its MTU less the encapsulation).
// The core learns the limit when the queue is attached and drops a larger
// frame as oversize before the queue, so that counters and observers show
// it dropped, not delivered.
type FrameLimiter interface {
	MaxFrame() int
}

// QueueDepth is what waits in an egress queue, and its peer's progress.
type QueueDepth struct {
	Frames int    // frames waiting for the peer
	Bytes  int    // the memory they hold: the sum of their Frame.Footprint
	Taken  uint64 // frames the peer has taken since the queue was made
}

// Discard is an EgressQueue whose peer takes every frame at once: it
// releases them. Replays and benchmarks that only observe use it.
type Discard struct{}

func (Discard) Enqueue(f *Frame)  { f.Release() }
func (Discard) Depth() QueueDepth { return QueueDepth{} }
func (Discard) WatchDrain(int)    {}

// egress is a live port's queue between the core and the port's writer
// goroutine: a single-producer, single-consumer ring. The producer is the
// core, run by whichever goroutine holds the hub's lock (the lock orders
// them); the consumer is the writer. Neither blocks the other: the writer
// sleeps only on an empty ring, and the core wakes it when it fills one.
//
// The ring's capacity is the port's bound (the core never enqueues beyond
// what it admits, see Core.admit), so Enqueue never finds it full.
type egress struct {
	stats *PortStats // the port's, for a frame a full ring cannot take
	ring  []*Frame
	mask  uint64
	head  atomic.Uint64 // frames taken by the writer
	tail  atomic.Uint64 // frames appended by the core
	bytes atomic.Int64  // what the frames waiting hold (Frame.Footprint)
	// low is the WatchDrain threshold, -1 when the core does not wait for
	// a drain. The writer reads it after each take. lowBytes is the byte
	// low-water mark the core also waits for (fixed).
	low      atomic.Int64
	lowBytes int64
	// idle is set while the writer sleeps (or is about to) on wake.
	idle atomic.Bool
	wake chan struct{}
}

var _ EgressQueue = (*egress)(nil)

// newEgress returns a queue for at least capacity frames, counting on
// stats, whose drain is wanted down to lowBytes bytes as well as the
// WatchDrain frame mark.
func newEgress(capacity int, lowBytes int, stats *PortStats) *egress {
	n := uint64(1) << bits.Len(uint(max(capacity, 2)-1)) // a power of two >= capacity
	q := &egress{ring: make([]*Frame, n), mask: n - 1, wake: make(chan struct{}, 1), stats: stats, lowBytes: int64(lowBytes)}
	q.low.Store(-1)
	return q
}

// Enqueue implements EgressQueue; it is called with the hub's lock held.
func (q *egress) Enqueue(f *Frame) {
	t := q.tail.Load()
	if t-q.head.Load() >= uint64(len(q.ring)) {
		// The core admits at most the capacity; a full ring would be a bug
		// in that bound. Losing the frame beats overwriting one, and it is
		// counted as what it is: the port's bound reached.
		q.stats.Drop(DropBacklogFull)
		f.Release()
		return
	}
	q.ring[t&q.mask] = f
	q.bytes.Add(int64(f.Footprint()))
	q.tail.Store(t + 1)
	if q.idle.Load() {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Depth implements EgressQueue.
func (q *egress) Depth() QueueDepth {
	h := q.head.Load()
	return QueueDepth{Frames: int(q.tail.Load() - h), Bytes: int(q.bytes.Load()), Taken: h}
}

// WatchDrain implements EgressQueue.
func (q *egress) WatchDrain(low int) { q.low.Store(int64(low)) }

// len returns the frames waiting.
func (q *egress) len() int { return int(q.tail.Load() - q.head.Load()) }

// peek copies up to len(dst) waiting frames, oldest first, into dst and
// returns how many. They stay in the queue, counted by Depth, until commit:
// a frame the writer is still writing is waiting for the peer as much as one
// it has not looked at, and a peer that stops reading must not look like a
// peer that read 64 frames. Writer only.
func (q *egress) peek(dst []*Frame) int {
	h := q.head.Load()
	n := int(min(q.tail.Load()-h, uint64(len(dst))))
	for i := range n {
		dst[i] = q.ring[(h+uint64(i))&q.mask]
	}
	return n
}

// commit removes the n oldest frames, which the writer has written (or
// given up on); their references pass to the caller, who peeked them and
// releases them after commit. Writer only.
func (q *egress) commit(n int) {
	h := q.head.Load()
	var size int64
	for i := range n {
		slot := &q.ring[(h+uint64(i))&q.mask]
		size += int64((*slot).Footprint())
		*slot = nil
	}
	q.bytes.Add(-size)
	q.head.Store(h + uint64(n))
}

// drainWanted reports whether the core asked to hear when the queue is at
// or below its low-water marks and it now is. Writer only, after commit.
func (q *egress) drainWanted() bool {
	low := q.low.Load()
	return low >= 0 && int64(q.len()) <= low && q.bytes.Load() <= q.lowBytes
}

// wait blocks until the ring holds a frame or stop is closed, and reports
// which. Writer only.
func (q *egress) wait(stop <-chan struct{}) bool {
	for q.len() == 0 {
		// Announce the sleep before the last look: the core appends, then
		// looks at idle, so one of the two sees the other (both are
		// sequentially consistent atomics).
		q.idle.Store(true)
		if q.len() > 0 {
			q.idle.Store(false)
			return true
		}
		select {
		case <-q.wake:
		case <-stop:
			q.idle.Store(false)
			return false
		}
		q.idle.Store(false)
	}
	return true
}

// discard releases every waiting frame, counting it on stats as DropDown:
// it was queued for a peer that is gone. Writer only, once the core can no
// longer append (the attachment is detached).
func (q *egress) discard(stats *PortStats) {
	var batch [64]*Frame
	for {
		n := q.peek(batch[:])
		if n == 0 {
			return
		}
		q.commit(n)
		ReleaseAll(batch[:n])
		stats.dropN(DropDown, n)
	}
}
