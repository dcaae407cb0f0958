// Package wallclock is the one place l2hub reads the system clock. Everything
// deterministic (hub, filter, capture, conformance) takes a hub.Clock instead,
// so this package is injected at the edges (cmd/l2hub, live transports).
package wallclock

import "time"

// Clock reads the system's wall clock (with its monotonic reading).
type Clock struct{}

// Now returns time.Now().
func (Clock) Now() time.Time { return time.Now() }
