// Package vsim runs in-process network hosts (gVisor netstack hosts with
// the programs on them) on a hub core in virtual time, deterministically.
//
// A live hub moves frames on goroutines at the speed of the machine, so two
// runs of the same nodes differ in timing and interleaving. A Sim removes
// both: one hub.VirtualClock gives every stack, node and the core their
// time and moves only when the whole process is idle, and one goroutine
// moves every frame, one event at a time:
//
//  1. Settle (internal/idle): wait until no goroutine can run (every stack,
//     node and test goroutine is blocked on something only the driver can
//     change).
//  2. Deliver the oldest frame the core has queued for a host; or take the
//     next frame a host has sent (hosts in port-name order) into the core;
//     or, when nothing moves, step virtual time with hub.Driver, the same
//     driver hubtest and replay use: to the earliest timer, core's or
//     clock's, and fire that one.
//
// Each event's consequences are therefore complete before the next event
// starts, the order of events depends only on what the hosts did, and with
// seeded stacks (netstack.Config.Rand) the frames, their virtual timestamps
// and a capture of them repeat byte for byte.
//
// Settle reads the runtime's goroutine states, so the process must not run
// other work that depends on wall-clock timers or I/O while a Sim runs; it is
// a test facility. Programs on the hosts must take all their time from the
// Sim's Clock.
//
// Imports: hub and internal/idle.
package vsim
