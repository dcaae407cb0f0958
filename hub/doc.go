// Package hub is l2hub's forwarding core: named ports, the hub and learning
// switch forwarding modes, the clock and timer heap, per-port counters and the
// live event loop that ties transports to them.
//
// Concurrency contract. A [Core] is serial: it is owned by exactly one
// goroutine (the hub loop in a live [Hub], the test driver in hubtest, the
// replay driver offline) and is not safe for concurrent use. Everything the
// core calls back into — [Policy], [Observer], [EgressQueue] — runs on that same
// goroutine and must not block. A live [Hub] adds one reader and one writer
// goroutine per attached [PortIO]; they talk to the loop through channels and
// update counters with atomics, so the forwarding path takes no locks.
//
// Time and randomness are injected: the core reads a [Clock] and never the
// wall clock, and it draws no random numbers itself (policies derive theirs
// from a seed). Under a [VirtualClock] the core's output is a pure function
// of its configuration, policy and input.
package hub
