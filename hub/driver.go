package hub

import "time"

// Driver is l2hub's one virtual-time driver: it moves a VirtualClock and
// runs what falls due, the core's timers (delayed frames, stall checks,
// hubtest's paced readers) and the clock's (AfterFunc: network stacks,
// virtual nodes), one deadline at a time in (time, sequence) order. hubtest,
// replay and the netstack simulation (internal/vsim) all drive time with
// it, so they agree on what "advance to t" means.
//
// The core's timers and the clock's are two heaps, each ordered by
// (deadline, creation); Step takes from whichever is due first, and at the
// same instant the core's go first. Every timer's function has finished,
// and everything it scheduled is in a heap, before the next step: the
// core's run inside RunDue, and the clock's run either on the Driver's own
// goroutine (no Settle) or on their own, with Settle waiting for them.
//
// A Driver is used by one goroutine, which owns the core meanwhile.
type Driver struct {
	Clock *VirtualClock
	Core  *Core // may be nil: the clock's timers alone

	// Settle, when set, is how the Driver waits for a clock timer's
	// function: Step starts the function on its own goroutine, as
	// time.AfterFunc would, then calls Settle, which must return once
	// the function and whatever it woke have run as far as they can
	// (internal/vsim sets internal/idle's Settle). When nil, Step calls
	// the function itself and returns when it has returned: the function
	// must then not wait for another goroutine to act after the step.
	Settle func() error

	err error // the first error Settle returned; stops the Driver
}

// Next returns the earliest deadline of the core's timers and the clock's.
func (d *Driver) Next() (time.Time, bool) {
	ct, cok := d.Clock.next()
	if d.Core == nil {
		return ct, cok
	}
	ht, hok := d.Core.NextDeadline()
	switch {
	case !hok:
		return ct, cok
	case !cok || !ct.Before(ht):
		return ht, true
	}
	return ct, true
}

// Step moves the clock to the earliest deadline and runs what is due
// there: every core timer due by then (they run in order, one RunDue), or,
// when a clock timer comes first, that one timer (see Settle for where its
// function runs; it has finished when Step returns). At the same instant
// the core's timers go first. It reports false when nothing is pending, or
// once Settle has failed (Err).
func (d *Driver) Step() bool {
	if d.err != nil {
		return false
	}
	ct, cok := d.Clock.next()
	var ht time.Time
	hok := false
	if d.Core != nil {
		ht, hok = d.Core.NextDeadline()
	}
	switch {
	case hok && (!cok || !ct.Before(ht)):
		d.Clock.Set(ht)
		d.Core.RunDue()
	case cok:
		d.Clock.Set(ct)
		f := d.Clock.take()
		if f == nil {
			return true // stopped between next and take
		}
		if d.Settle == nil {
			f()
			return true
		}
		go f()
		if err := d.Settle(); err != nil {
			d.err = err
		}
	default:
		return false
	}
	return true
}

// Err returns the error Settle returned, after which the Driver steps no
// more; nil while it has not failed.
func (d *Driver) Err() error { return d.err }

// AdvanceTo moves the clock to t, stopping at every deadline on the way so
// that each timer runs at its own time; after each step it calls between
// (nil: nothing), which may schedule more. A t earlier than the clock
// leaves the clock where it is, after running what is due now. Once Settle
// has failed it stops where it is (Err).
func (d *Driver) AdvanceTo(t time.Time, between func()) {
	for {
		dl, ok := d.Next()
		if !ok || dl.After(t) {
			break
		}
		if !d.Step() {
			return
		}
		if between != nil {
			between()
		}
	}
	d.Clock.Set(t)
}

// Drain steps until nothing is pending, calling between after each step.
// It does not return while timers keep scheduling timers.
func (d *Driver) Drain(between func()) {
	for d.Step() {
		if between != nil {
			between()
		}
	}
}
