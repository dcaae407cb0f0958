// Package hub is l2hub's forwarding core: named ports, the hub and learning
// switch forwarding modes, flow control, the clock and timer heap, per-port
// counters, and the live hub that ties transports to them.
//
// Concurrency contract. A [Core] is serial: one owner at a time holds all its
// state (the live [Hub] holds it under one lock, hubtest and replay drive it
// from one goroutine), and it is not safe for concurrent use. Everything the
// core calls back into — [Policy] (and its [Gate], asked again when a
// delayed copy is due), [Observer], [EgressQueue], OnResume, OnRoom —
// runs with that ownership and must not block.
//
// A live Hub gives each attached [PortIO] a reader and a writer goroutine.
// The reader reads a batch of frames and, under the hub's lock, runs the core
// on it to completion: ingress, policy, forwarding, and delivery into each
// destination's egress queue, a single-producer single-consumer ring that
// the destination's writer drains into its transport. Counters are atomics,
// readable at any time. Run fires the timers (delayed frames, stall checks).
// The live hub logs after letting go of its lock, in the order things
// happened: a peer's attach and detach, and what the core logs (a MAC
// move, a stall), each by the goroutine whose work logged it (a Do that
// ran the timers due logs what they logged; Run hands its own to a
// goroutine and fires the next timers), so a log writer that blocks holds
// that goroutine, never the frames or the timers.
//
// Flow control. No frame is lost that the policy did not drop, as long as
// every receiver reads: a queue at its high-water mark holds the frame and
// pauses the senders whose frames wait there ([Core.Paused]); the hub reads
// nothing from a paused port until the queue drains to its low-water mark.
// Frames a delay holds for a port count with its queue, and senders that
// cannot be pushed back use its backlog, up to a second mark where every
// sender pauses; the marks are in [OverflowPause]. A port whose peer takes
// nothing for the stall time drops its own frames instead (DropStalled)
// until it drains. [OverflowDrop] keeps a tail drop. An injection
// ([Hub.Inject]) is held back like a sender with [Hub.WaitRoom].
//
// Time and randomness are injected: the core reads a [Clock] and never the
// wall clock, and it draws no random numbers itself (policies derive theirs
// from a seed). Clock is l2hub's one clock interface; the live hub waits for
// its timers with the Clock's AfterFunc. Under a [VirtualClock] the core's
// output is a pure function of its configuration, policy and input, and a
// [Driver] is the one way virtual time moves: hubtest, replay and the
// netstack simulation (internal/vsim) all step the core's timers and the
// clock's with it: two heaps, each in (time, creation) order, merged by
// deadline with the core's first at the same instant.
//
// Files. The Core: core.go (CoreConfig, the Core, NewCore, SetPolicy),
// porttable.go (its ports and links), forward.go (Ingress, deliver,
// Inject: the hot path), learn.go (ModeSwitch's learning table), flow.go
// (flow control: marks, pauses, stalls), queue.go (EgressQueue and the
// live egress ring), timers.go (the timer heap, RunDue) and delay.go (the
// copies waiting out a delay). The live Hub: hub.go (Config, New, Run,
// Do, the lock and the logs kept under it), attach.go (ports and the
// peers attached to them), readwrite.go (each peer's reader and writer)
// and control.go (status, injection, policy swaps); discard.go rate-limits
// their logs of discarded frames. The interfaces around them: port.go
// (PortIO, DropReason), policy.go, observer.go, peer.go (PeerEvent),
// note.go and noteparse.go (Note, its text), clock.go (Clock,
// VirtualClock), driver.go (Driver), frame.go (Frame), stats.go
// (PortStats, LinkStats), mode.go and errors.go.
//
// Imports: nothing of l2hub. Every other package may import hub's small
// interfaces (PortIO, Policy, Observer, EgressQueue, Clock).
package hub
