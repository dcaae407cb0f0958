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
// One condition is the processor count. An event often wakes two
// goroutines of one stack at once (its TCP processor and the program
// reading the socket), and what the program has read by the time the
// processor sends decides the window it advertises; Settle waits for both
// but does not order them. On one processor they run one after the other
// in the scheduler's order; on two, side by side, and the capture changes
// from run to run. So New sets runtime.GOMAXPROCS(1) and the last Close
// restores the setting (the runtime's default through
// runtime.SetDefaultGOMAXPROCS, so that it follows CPU limits again): a test
// need not, and the whole process, not only the Sim, runs on one processor
// meanwhile. What remains is the runtime's
// own order on that processor (its run queue, and asynchronous preemption,
// which wall time triggers): the runtime's, not a promise of Go's. It held
// in every TCP echo we ran (TestRepeatsAtAnyGOMAXPROCS: about a thousand
// sessions, under -race, GOGC=1 and a load average of 8 and more), but
// two virtual DSoftBus nodes on a machine that busy advertised another
// window in about one run in 400, with asynchronous preemption off too: the
// same frames at the same instants, a window (and so a checksum) apart. A
// test that compares such runs byte for byte leaves TCP's window out
// (conformance/vnode's frameDigest).
//
// The clock's timers (hub.Driver with Settle) start on their own
// goroutines, as a tcpip.Clock's must, and have run as far as they can
// before the next event; the core's run on the driver. At one instant the
// core's go first, then the clock's in creation order.
//
// Settle reads the runtime's goroutine states, so the process must not run
// other work that depends on wall-clock timers or I/O while a Sim runs; it is
// a test facility. Programs on the hosts must take all their time from the
// Sim's Clock, and every stack its randomness from a seeded reader: a
// netstack host built without Config.Clock runs on the wall clock, and one
// without Config.Rand draws from crypto/rand, and nothing complains.
//
// Imports: hub and internal/idle.
package vsim
