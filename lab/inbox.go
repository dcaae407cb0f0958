package lab

import (
	"math"
	"sync"
	"time"

	"l2hub/hub"
)

// maxQueued bounds the events waiting for the run's loop: the reader of a
// console that prints faster than the loop judges waits for room.
const maxQueued = 4096

// event is what a VM tells the run's loop.
type event struct {
	vm     int
	exit   bool
	prompt bool // the start of a line without its newline yet, after which the console was quiet
	at     time.Duration
	text   string // the line, or the exit status
}

// inbox carries the VMs' console lines and exits to the run's loop, and is
// where they are stamped: a reader stamps its event and queues it under
// one lock, and the loop takes the queue and reads the clock under the
// same lock. So every event stamped before the time the loop judges a
// bound at is among what it took, however late the reader's goroutine was
// scheduled between reading a line and handing it over: a line stamped
// before its bound always counts as in time.
//
// Safe for concurrent use: the VMs' readers put, the run's loop takes.
type inbox struct {
	clock hub.Clock
	start time.Time // the run's start: stamps are durations since it
	ready chan struct{}

	mu     sync.Mutex
	room   sync.Cond // signalled when the loop takes the queue, or on close
	queue  []event
	closed bool
	// ended holds the VMs whose QEMU has ended and whose console is still
	// being read (end): when it ended. Their lines are stamped no later
	// (QEMU wrote them before), and nothing stamped after it is judged
	// before their exit (take's horizon).
	ended map[int]time.Duration
	// begun holds the VMs whose console has begun a line that is not
	// handed over yet (partial): when its last bytes came. If the console
	// stays quiet, it is handed over as a prompt stamped then, and nothing
	// stamped after it is judged before (take's horizon).
	begun map[int]time.Duration
}

// noHorizon is take's horizon when no VM's console is being drained.
const noHorizon = time.Duration(math.MaxInt64)

func newInbox(clock hub.Clock, start time.Time) *inbox {
	b := &inbox{clock: clock, start: start, ready: make(chan struct{}, 1), ended: map[int]time.Duration{}, begun: map[int]time.Duration{}}
	b.room.L = &b.mu
	return b
}

func (b *inbox) now() time.Duration { return b.clock.Now().Sub(b.start) }

// put stamps ev with the time since the run's start (for a VM whose QEMU
// has ended, its exit time at the latest; for a prompt, when its last
// bytes came: see partial) and queues it, waiting while the queue is
// full; it returns the stamp. Once the inbox is closed (the loop reads no
// more) the event is stamped and dropped.
func (b *inbox) put(ev event) time.Duration {
	b.mu.Lock()
	for len(b.queue) >= maxQueued && !b.closed {
		b.room.Wait()
	}
	ev.at = b.stamp(ev.vm)
	if at, ok := b.begun[ev.vm]; ok && ev.prompt {
		ev.at = at
	}
	delete(b.begun, ev.vm) // handed over, or the line ended: no prompt to wait for
	if ev.exit {
		delete(b.ended, ev.vm) // its console is read
	}
	if !b.closed {
		b.queue = append(b.queue, ev)
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return ev.at
}

// stamp is the time since the run's start, for VM vm: for a VM whose QEMU
// has ended, its exit time at the latest. It must be called with b.mu
// held.
func (b *inbox) stamp(vm int) time.Duration {
	at := b.now()
	if e, ok := b.ended[vm]; ok && at > e {
		at = e
	}
	return at
}

// partial records that bytes of a line not ended yet came on VM vm's
// console now: the line may be handed over as a prompt (put), stamped now,
// once the console has been quiet for promptQuiet, and until then the
// loop judges nothing after now (take's horizon). It wakes the loop, which
// may have held a bound for an earlier stamp.
func (b *inbox) partial(vm int) {
	b.mu.Lock()
	if !b.closed {
		b.begun[vm] = b.stamp(vm)
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// end records that VM vm's QEMU has ended, now; its console is still being
// read, until its exit event is put.
func (b *inbox) end(vm int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended[vm] = b.now()
}

// take returns the queued events, in the order they were put, and the time
// since the run's start, read after the last of them was stamped: no event
// stamped before it is left behind. Some events are put later stamped
// earlier: the exit of a VM whose QEMU has ended but whose console is
// still being read (stamped when it ended), and the prompt of a console
// that has begun a line (stamped when its last bytes came, if it stays
// quiet). horizon is the earliest such stamp (noHorizon if none): what is
// stamped after it, and a bound at or after it, must wait for that event
// (at most exitDrain, or promptQuiet once no more bytes come).
func (b *inbox) take() (evs []event, now, horizon time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	evs = b.queue
	b.queue = nil
	b.room.Broadcast()
	horizon = noHorizon
	for _, e := range b.ended {
		horizon = min(horizon, e)
	}
	for _, e := range b.begun {
		horizon = min(horizon, e)
	}
	return evs, b.now(), horizon
}

// close drops what is queued and whatever is put from now on, and frees
// the readers waiting for room.
func (b *inbox) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.queue = nil
	b.room.Broadcast()
}
