package lab

// This file holds what the passing of time brings the judge: the earliest
// deadline (the runner's timer wakes it then), and what is due at each
// (an at: trigger, a for:'s undo, a prompt's hold, the run's, a phase's or
// an expect's timeout), and --soak's rounds over the last phase's markers.

import (
	"fmt"
	"time"
)

// deadline is the earliest time something is due, and whether there is
// one: the runner wakes the judge then (tick).
func (j *judge) deadline() (time.Duration, bool) {
	var best time.Duration
	ok := false
	consider := func(d time.Duration) {
		if !ok || d < best {
			best, ok = d, true
		}
	}
	if j.done {
		return 0, false
	}
	consider(j.timeout)
	for vi, vm := range j.lab.VMs {
		if k := j.vms[vi].expect; k < len(vm.Expect) && !j.expectsOptional() {
			consider(vm.Expect[k].Within)
		}
	}
	if j.cur <= j.until && j.cur < len(j.phases) {
		consider(j.phases[j.cur].Start + j.defs[j.cur].Within)
	}
	for ti, tr := range j.lab.Triggers {
		if tr.OnVM < 0 && j.pending(ti) {
			consider(tr.At)
		}
		if j.undoAt[ti] > 0 {
			consider(j.undoAt[ti])
		}
	}
	if s := j.soakState; s != nil {
		consider(min(s.roundEnd, s.end))
	}
	for _, t := range j.vms {
		if t.holdUntil > 0 {
			consider(t.holdUntil)
		}
	}
	return best, true
}

// tick tells the judge the time is now: whatever is due by then happens.
func (j *judge) tick(now time.Duration) []fire { return j.expire(now, true) }

// expire applies everything due before now (at now too, when inclusive),
// in time order.
func (j *judge) expire(now time.Duration, inclusive bool) []fire {
	var fires []fire
	for !j.done {
		d, ok := j.deadline()
		if !ok || d > now || (d == now && !inclusive) {
			return fires
		}
		f, handled := j.expireAt(d)
		fires = append(fires, f...)
		if !handled { // cannot happen: every deadline has its case below
			j.finish(d)
		}
	}
	return fires
}

// expireAt applies what is due at d (one deadline's worth; expire loops).
func (j *judge) expireAt(d time.Duration) ([]fire, bool) {
	for ti, tr := range j.lab.Triggers {
		if tr.OnVM < 0 && j.pending(ti) && tr.At == d {
			return j.fireTrigger(ti, d), true
		}
		if j.undoAt[ti] == d && j.undoAt[ti] > 0 {
			j.undoAt[ti] = 0
			if tr.Do.Kind == ActPartition && !j.inForce[ti] {
				j.logf(d, "%s: no heal after %s: a heal made it already", tr.Name, tr.For)
				return nil, true
			}
			j.inForce[ti] = false
			undo := tr.Do.undo(tr.Name)
			j.logf(d, "%s: %s (after %s)", tr.Name, undo, tr.For)
			return []fire{{trigger: ti, undo: true, at: d, act: undo}}, true
		}
	}
	if s := j.soakState; s != nil && (d == s.roundEnd || d == s.end) {
		j.soakRound(d)
		return nil, true
	}
	for vi := range j.vms {
		if t := &j.vms[vi]; t.holdUntil == d {
			t.holdUntil = 0
			j.settle(d)
			return nil, true
		}
	}
	if d == j.timeout {
		vm, marker := j.firstMissing()
		j.fail(Failure{Code: Code(j.phaseName()) + "_TIMEOUT", At: d, Marker: marker,
			Message: fmt.Sprintf("the run's timeout (%s) passed waiting for %s", j.timeout, orText(marker, "the end"))}, vm)
		return nil, true
	}
	if j.cur <= j.until && j.cur < len(j.phases) {
		ph := j.defs[j.cur]
		if j.phases[j.cur].Start+ph.Within == d {
			vm, marker := j.firstMissing()
			j.fail(Failure{Code: Code(ph.Name) + "_TIMEOUT", At: d, Marker: marker,
				Message: fmt.Sprintf("phase %s not done within %s: no %q", ph.Name, ph.Within, marker)}, vm)
			return nil, true
		}
	}
	for vi, vm := range j.lab.VMs {
		if k := j.vms[vi].expect; k < len(vm.Expect) && vm.Expect[k].Within == d {
			marker := vm.Expect[k].Marker.String()
			j.fail(Failure{Code: Code(j.phaseName()) + "_TIMEOUT", At: d, Marker: marker,
				Message: fmt.Sprintf("VM %s printed no %q within %s of the run's start", vm.Name, marker, vm.Expect[k].Within)}, vi)
			return nil, true
		}
	}
	return nil, false
}

type soakTrack struct {
	start, end time.Duration
	roundStart time.Duration
	roundEnd   time.Duration
	progress   []seen
	markers    [][]Pattern
}

func (j *judge) startSoak(now time.Duration) {
	last := j.defs[j.until]
	round := min(last.Within, j.soak)
	j.soakState = &soakTrack{start: now, end: now + j.soak, markers: last.Markers}
	j.soakRes = &Soak{Duration: j.soak, Round: round}
	j.logf(now, "soak: %s, the markers of phase %s again every %s", j.soak, last.Name, round)
	j.newRound(now)
}

func (j *judge) newRound(now time.Duration) {
	s := j.soakState
	s.roundStart = now
	s.roundEnd = min(now+j.soakRes.Round, s.end)
	s.progress = make([]seen, len(j.vms))
	for vi := range s.progress {
		s.progress[vi] = make(seen, len(s.markers[vi]))
	}
}

// soakRound judges the round that ends at d (its bound, or the soak's
// end) and starts the next.
func (j *judge) soakRound(d time.Duration) {
	s := j.soakState
	complete := true
	for vi := range j.vms {
		if s.progress[vi].next() >= 0 {
			complete = false
		}
	}
	whole := d-s.roundStart >= j.soakRes.Round // a round the soak's end cut short is not judged
	if complete || whole {
		j.soakRes.Rounds++
		if complete {
			j.soakRes.Passed++
		} else {
			j.soakRes.Failed++
			vm, marker := j.firstMissing()
			if j.soakRes.Failed == 1 {
				f := Failure{Code: "SOAK_TIMEOUT", At: d, Marker: marker,
					Message: fmt.Sprintf("soak round %d: no %q within %s", j.soakRes.Rounds, marker, j.soakRes.Round)}
				f.Phase, f.Since = "soak", s.roundStart
				f.VM = j.lab.VMs[vm].Name
				j.failures = append(j.failures, f)
			}
			j.logf(d, "soak round %d: missing %q on %s", j.soakRes.Rounds, marker, j.lab.VMs[vm].Name)
		}
	}
	if d >= s.end {
		j.logf(d, "soak: %d rounds, %d failed", j.soakRes.Rounds, j.soakRes.Failed)
		j.complete(d)
		return
	}
	j.newRound(d)
}

// soakAdvance is checked after each soak marker: a round whose markers are all
// in ends early and the next begins.
func (j *judge) soakAdvance(now time.Duration) {
	s := j.soakState
	if s == nil || j.done {
		return
	}
	for vi := range j.vms {
		if s.progress[vi].next() >= 0 {
			return
		}
	}
	j.soakRes.Rounds++
	j.soakRes.Passed++
	j.newRound(now)
}
