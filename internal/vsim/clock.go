package vsim

import (
	"container/heap"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"l2hub/hub"
)

// Clock is virtual time for everything in a Sim: it is a hub.Clock for the
// core, a tcpip.Clock for netstack hosts and a conformance.Clock (After)
// for nodes. Timers fire only when the Sim fires them, one at a time, in
// (deadline, creation) order.
type Clock struct {
	vc    *hub.VirtualClock
	start time.Time

	mu     sync.Mutex
	timers timerHeap
	seq    uint64
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{vc: hub.NewVirtualClock(start), start: start}
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time { return c.vc.Now() }

// Elapsed returns the virtual time since the start.
func (c *Clock) Elapsed() time.Duration { return c.vc.Now().Sub(c.start) }

// NowMonotonic implements tcpip.Clock: the elapsed virtual time.
func (c *Clock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(c.Elapsed())
}

// AfterFunc implements tcpip.Clock: f runs on its own goroutine once the Sim
// fires the timer.
func (c *Clock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	t := &timer{c: c, fn: func() { go f() }, index: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// After implements conformance.Clock: the channel receives the virtual time
// once the Sim fires the timer.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	t := &timer{c: c, index: -1}
	t.fn = func() { ch <- t.when }
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return ch
}

// Pending returns how many timers wait.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// next returns the earliest deadline.
func (c *Clock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].when, true
}

// set moves the clock to t (never backwards).
func (c *Clock) set(t time.Time) { c.vc.Set(t) }

// fireOne fires the earliest timer if it is due and reports whether it did.
func (c *Clock) fireOne() bool {
	c.mu.Lock()
	if len(c.timers) == 0 || c.timers[0].when.After(c.vc.Now()) {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(&c.timers).(*timer)
	c.mu.Unlock()
	t.fn()
	return true
}

// schedule puts t at now+d; c.mu is held.
func (c *Clock) schedule(t *timer, d time.Duration) {
	c.seq++
	t.when = c.vc.Now().Add(max(d, 0))
	t.seq = c.seq
	heap.Push(&c.timers, t)
}

type timer struct {
	c     *Clock
	fn    func()
	when  time.Time
	seq   uint64
	index int // in the heap; -1 when not scheduled
}

// Stop implements tcpip.Timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// Reset implements tcpip.Timer.
func (t *timer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index >= 0 {
		heap.Remove(&t.c.timers, t.index)
	}
	t.c.schedule(t, d)
}

// timerHeap orders timers by (deadline, seq).
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
