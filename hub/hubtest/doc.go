// Package hubtest drives the real hub.Core synchronously in virtual time, as
// net/http/httptest drives a handler: Send runs a frame through ingress,
// policy, forwarding and delivery before it returns, and Advance moves the
// virtual clock through every timer deadline in order. Nothing runs on
// another goroutine, so a test's output is a pure function of its input.
// That includes a timer armed on the Sim's Clock whose function does its
// work there and returns (a policy given Sim.Clock): Advance and Drain call
// it on the caller's goroutine, at its own deadline, after the core's
// timers due at the same instant (hub.Driver). It does not include a timer
// whose function hands work to another goroutine that re-arms the timer or
// arms the next, as a capture sink's flush timer does (its writer
// goroutine resets it): that goroutine races the Driver, so where the
// timer fires next depends on the scheduler, Advance can skip deadlines,
// and Drain over a timer that keeps re-arming may never end. Give such a
// component a clock of its own instead: nil (the wall clock; a sink's
// flushes decide when bytes reach the disk, never which bytes), or a
// hub.VirtualClock the test steps with a hub.Driver that waits for the
// goroutine between steps (in a testing/synctest bubble, Driver.AdvanceTo
// with synctest.Wait, as capture's tests do). A program that runs its own
// goroutines belongs on internal/vsim, not on a Sim.
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
