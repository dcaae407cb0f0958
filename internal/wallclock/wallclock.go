package wallclock

import (
	"time"

	"l2hub/hub"
)

// base is the process's first reading of the clock: every later reading is
// base plus the monotonic time elapsed since.
var base = time.Now()

// Clock reads the system's clock. Its wall time is the wall time at start
// plus the monotonic time since, so that timestamps (which captures record
// as wall time) are ordered exactly as the monotonic readings the hub
// compares: a frame delivered at a timer's deadline, computed as an earlier
// reading plus a delay, is never stamped after one read fresh from the
// system a moment later, however NTP slews or steps the system's wall
// clock. Over a long run the stamps drift from the system's wall clock by
// whatever NTP corrects.
type Clock struct{}

var _ hub.Clock = Clock{}

// Now returns the current time.
func (Clock) Now() time.Time { return base.Add(time.Since(base)) }

// AfterFunc implements hub.Clock with the system's timers (time.AfterFunc;
// inside a testing/synctest bubble, the bubble's).
func (Clock) AfterFunc(d time.Duration, f func()) hub.Timer { return time.AfterFunc(d, f) }
