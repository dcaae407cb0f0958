// Package hubtest drives the real hub.Core synchronously in virtual time, as
// net/http/httptest drives a handler: Send runs a frame through ingress,
// policy, forwarding and delivery before it returns, and Advance moves the
// virtual clock through every timer deadline in order. Nothing runs on
// another goroutine, so a test's output is a pure function of its input.
// That includes timers armed on the Sim's Clock (a capture sink or a
// policy given Sim.Clock): Advance and Drain call their functions on the
// caller's goroutine, each at its own deadline, after the core's timers due
// at the same instant (hub.Driver); one that waits for another goroutine
// does not belong on a Sim (internal/vsim runs such programs).
//
// Each port's peer has the core's bounded egress queue in front of it and
// reads at a pace the test sets: at once (the default), one frame per
// interval of virtual time, only when told (Read), or not at all. A peer
// whose port the core pauses keeps what it sends, in order, until the core
// lets it go, as a stream socket's buffer would: the same flow control a
// live hub applies, without its goroutines.
//
// A Sim is not safe for concurrent use.
//
// Imports: hub only; only tests import it.
package hubtest
