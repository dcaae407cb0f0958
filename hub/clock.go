package hub

import (
	"sync"
	"time"
)

// Clock is the hub's only source of time. The wall clock lives outside the
// deterministic packages (l2hub/internal/wallclock); tests and replay use a
// VirtualClock.
type Clock interface {
	Now() time.Time
}

// VirtualClock is a Clock that moves only when told to. It is safe for
// concurrent use, though a Core reads it only from its own goroutine.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// DefaultEpoch is where virtual time starts unless a test or a capture says
// otherwise: a fixed, recognisable instant, so that goldens do not move.
var DefaultEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewVirtualClock returns a clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock {
	return &VirtualClock{now: start}
}

// Now returns the current virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t. Moving backwards is ignored: time never runs
// backwards for the core, even when a capture's timestamps do.
func (c *VirtualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// Advance moves the clock forward by d (d <= 0 does nothing).
func (c *VirtualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
