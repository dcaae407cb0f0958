// Package wallclock is the one place l2hub reads the system clock. Everything
// deterministic (hub, filter, capture, conformance) takes a hub.Clock instead,
// so this package is injected at the edges (the serve session, live
// transports, the command, the guest agent).
//
// Imports: hub (for the Clock interface) only.
package wallclock
