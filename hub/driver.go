package hub

import "time"

// Driver is l2hub's one virtual-time driver: it moves a VirtualClock and
// runs what falls due, the core's timers (delayed frames, stall checks,
// hubtest's paced readers) and the clock's (AfterFunc: network stacks,
// virtual nodes), one deadline at a time in (time, sequence) order. hubtest,
// replay and the netstack simulation (internal/vsim) all drive time with
// it, so they agree on what "advance to t" means.
//
// A Driver is used by one goroutine, which owns the core meanwhile.
type Driver struct {
	Clock *VirtualClock
	Core  *Core // may be nil: the clock's timers alone
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
// when a clock timer comes first, that one timer (its function starts on
// its own goroutine). At the same instant the core's timers go first. It
// reports false when nothing is pending.
func (d *Driver) Step() bool {
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
		d.Clock.fireOne()
	default:
		return false
	}
	return true
}

// AdvanceTo moves the clock to t, stopping at every deadline on the way so
// that each timer runs at its own time; after each step it calls between
// (nil: nothing), which may schedule more. A t earlier than the clock
// leaves the clock where it is, after running what is due now.
func (d *Driver) AdvanceTo(t time.Time, between func()) {
	for {
		dl, ok := d.Next()
		if !ok || dl.After(t) {
			break
		}
		d.Step()
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
