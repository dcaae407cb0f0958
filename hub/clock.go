package hub

import (
	"sync/atomic"
	"time"
)

// Clock is the hub's only source of time. The wall clock lives outside the
// deterministic packages (l2hub/internal/wallclock); tests and replay use a
// VirtualClock.
type Clock interface {
	Now() time.Time
}

// VirtualClock is a Clock that moves only when told to. It is safe for
// concurrent use; Now is a single atomic load, since the core reads it for
// every frame.
type VirtualClock struct {
	base time.Time
	off  atomic.Int64 // nanoseconds since base; never decreases
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

// Set moves the clock to t. Moving backwards is ignored: time never runs
// backwards for the core, even when a capture's timestamps do.
func (c *VirtualClock) Set(t time.Time) {
	c.forward(int64(t.Sub(c.base)))
}

// Advance moves the clock forward by d (d <= 0 does nothing).
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
