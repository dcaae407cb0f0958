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
}

// noHorizon is take's horizon when no VM's console is being drained.
const noHorizon = time.Duration(math.MaxInt64)

func newInbox(clock hub.Clock, start time.Time) *inbox {
	b := &inbox{clock: clock, start: start, ready: make(chan struct{}, 1), ended: map[int]time.Duration{}}
	b.room.L = &b.mu
	return b
}

func (b *inbox) now() time.Duration { return b.clock.Now().Sub(b.start) }

// put stamps ev with the time since the run's start (for a VM whose QEMU
// has ended, its exit time at the latest) and queues it, waiting while the
// queue is full; it returns the stamp. Once the inbox is closed (the loop
// reads no more) the event is stamped and dropped.
func (b *inbox) put(ev event) time.Duration {
	b.mu.Lock()
	for len(b.queue) >= maxQueued && !b.closed {
		b.room.Wait()
	}
	ev.at = b.now()
	if e, ok := b.ended[ev.vm]; ok && ev.at > e {
		ev.at = e
	}
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

// end records that VM vm's QEMU has ended, now; its console is still being
// read, until its exit event is put.
func (b *inbox) end(vm int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended[vm] = b.now()
}

// take returns the queued events, in the order they were put, and the time
// since the run's start, read after the last of them was stamped: no event
// stamped before it is left behind. A VM whose QEMU has ended but whose
// console is still being read will put its exit later, stamped earlier:
// horizon is the earliest such exit (noHorizon if none), and what is
// stamped after it, and a bound after it, must wait for that exit.
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
