package hub

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock is l2hub's one notion of time: the core, the live hub's timers,
// policies (through the core), transports' rate-limited logs, the virtual
// nodes and their network stacks, replay's injection pacing and the
// progress bar all take one. The wall clock lives outside the deterministic
// packages (l2hub/internal/wallclock); tests, replay and simulations use a
// VirtualClock, which moves only when told to.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f on its own goroutine once the clock has reached
	// Now()+d, as time.AfterFunc does (a d <= 0 is due at once). A
	// VirtualClock's Driver may instead call f itself (Driver.Settle).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc; *time.Timer is one. Stop cancels it and
// reports whether it was pending; Reset moves it to now+d and reports
// whether it was pending.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// After returns a channel that receives c's time once c has reached
// Now()+d: time.After on any Clock.
func After(c Clock, d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

// VirtualClock is a Clock that moves only when told to (Set, Advance) and
// fires its timers only when a Driver fires them, one at a time, in
// (deadline, creation) order, each with the clock at its deadline and
// finished before the next fires. It is safe for concurrent use; Now is a
// single atomic load, since the core reads it for every frame.
type VirtualClock struct {
	base time.Time
	off  atomic.Int64 // nanoseconds since base; never decreases

	mu     sync.Mutex
	timers []*virtualTimer // a min-heap by (at, seq)
	seq    uint64
}

// DefaultEpoch is where virtual time starts unless a test or a capture says
// otherwise: a fixed, recognisable instant, so that goldens do not move.
var DefaultEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewVirtualClock returns a clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock {
	return &VirtualClock{base: start}
}

// Now returns the current virtual time.
func (c *VirtualClock) Now() time.Time { return c.base.Add(time.Duration(c.off.Load())) }

// Elapsed returns the virtual time since the clock's start.
func (c *VirtualClock) Elapsed() time.Duration { return time.Duration(c.off.Load()) }

// Set moves the clock to t. Moving backwards is ignored: time never runs
// backwards for the core, even when a capture's timestamps do. Timers
// that fall due are not fired: a Driver fires them.
func (c *VirtualClock) Set(t time.Time) {
	c.forward(int64(t.Sub(c.base)))
}

// Advance moves the clock forward by d (d <= 0 does nothing); see Set.
func (c *VirtualClock) Advance(d time.Duration) {
	if d > 0 {
		c.forward(c.off.Load() + int64(d))
	}
}

func (c *VirtualClock) forward(to int64) {
	for {
		cur := c.off.Load()
		if to <= cur || c.off.CompareAndSwap(cur, to) {
			return
		}
	}
}

// AfterFunc implements Clock: f runs once a Driver fires the timer, with
// the clock at Now()+d (or later, if the clock was Set past it). It runs
// on the Driver's goroutine, inside its Step, unless the Driver has a
// Settle hook; then on its own goroutine, as Clock says (see Driver).
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &virtualTimer{c: c, f: f, index: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// Pending returns how many timers wait.
func (c *VirtualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// next returns the earliest timer's deadline.
func (c *VirtualClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].at, true
}

// take removes the earliest timer if it is due and returns its function;
// nil when none is due.
func (c *VirtualClock) take() func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 || c.timers[0].at.After(c.Now()) {
		return nil
	}
	return c.remove(0).f
}

// schedule puts t at now+d; c.mu is held.
func (c *VirtualClock) schedule(t *virtualTimer, d time.Duration) {
	c.seq++
	t.at, t.seq = c.Now().Add(max(d, 0)), c.seq
	t.index = len(c.timers)
	c.timers = append(c.timers, t)
	c.up(t.index)
}

// virtualTimer is one AfterFunc of a VirtualClock.
type virtualTimer struct {
	c     *VirtualClock
	f     func()
	at    time.Time
	seq   uint64
	index int // in the heap; -1 when not scheduled
}

// Stop implements Timer.
func (t *virtualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	t.c.remove(t.index)
	return true
}

// Reset implements Timer.
func (t *virtualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.index >= 0
	if pending {
		t.c.remove(t.index)
	}
	t.c.schedule(t, d)
	return pending
}

// The clock's timers are a binary min-heap by (at, seq), like the core's
// (timers.go), with each timer knowing its index so Stop and Reset can
// take it out from the middle.

func (c *VirtualClock) less(i, j int) bool {
	a, b := c.timers[i], c.timers[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

func (c *VirtualClock) swap(i, j int) {
	h := c.timers
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (c *VirtualClock) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.less(i, p) {
			return
		}
		c.swap(i, p)
		i = p
	}
}

func (c *VirtualClock) down(i int) {
	n := len(c.timers)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && c.less(l, m) {
			m = l
		}
		if r < n && c.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		c.swap(i, m)
		i = m
	}
}

// remove takes the timer at index i out of the heap and returns it.
func (c *VirtualClock) remove(i int) *virtualTimer {
	last := len(c.timers) - 1
	t := c.timers[i]
	if i != last {
		c.swap(i, last)
	}
	c.timers[last] = nil
	c.timers = c.timers[:last]
	if i != last {
		c.down(i)
		c.up(i)
	}
	t.index = -1
	return t
}
