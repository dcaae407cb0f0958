package filter

import (
	"sync"
	"sync/atomic"
	"time"
)

// A toggle is an on/off state over time: a partition (on = separated) or a
// port's link (on = down). It combines a static schedule from the policy
// with dynamic changes (control API calls, triggers). The latest change
// wins; a dynamic change made at the same instant as a scheduled one wins
// over it. Everything is computed from now in closed form, so a schedule
// costs nothing while it is idle and a clock jump skips no transition.
type toggle struct {
	// Static schedule. One window [start, end), or with every > 0 a
	// repetition of [start+k*every, start+k*every+length) for k < count
	// (count 0 = forever).
	hasStart, hasEnd bool
	start, end       time.Duration
	every, length    time.Duration
	count            int64

	// Dynamic state: on at dynAt; with revert, back to !dynOn at revertAt.
	dynSet   bool
	dynOn    bool
	dynAt    time.Duration
	revert   bool
	revertAt time.Duration

	// mu lets Stats read the fields above from any goroutine: the hub
	// loop, their only writer, changes them under mu once the policy is
	// in use, and reads them without it.
	mu    sync.RWMutex
	drops atomic.Uint64 // frames this toggle dropped
}

// static reports the scheduled state at now and when it last changed; ok is
// false before the schedule's first transition.
func (t *toggle) static(now time.Duration) (on bool, at time.Duration, ok bool) {
	if t.every > 0 {
		if !t.hasStart || now < t.start {
			return false, 0, false
		}
		k := int64((now - t.start) / t.every)
		if t.count > 0 && k >= t.count {
			return false, t.start + time.Duration(t.count-1)*t.every + t.length, true
		}
		base := t.start + time.Duration(k)*t.every
		if now-base < t.length {
			return true, base, true
		}
		return false, base + t.length, true
	}
	if t.hasEnd && now >= t.end {
		return false, t.end, true
	}
	if t.hasStart && now >= t.start {
		return true, t.start, true
	}
	return false, 0, false
}

func (t *toggle) dynamic(now time.Duration) (on bool, at time.Duration, ok bool) {
	if !t.dynSet {
		return false, 0, false
	}
	if t.revert && now >= t.revertAt {
		return !t.dynOn, t.revertAt, true
	}
	return t.dynOn, t.dynAt, true
}

// on evaluates the toggle at now; fromSchedule says whether the schedule
// (rather than a control call or trigger) decided it. Hub loop, or under
// mu.
func (t *toggle) on(now time.Duration) (on, fromSchedule bool) {
	son, sAt, sOK := t.static(now)
	don, dAt, dOK := t.dynamic(now)
	switch {
	case sOK && dOK:
		if dAt >= sAt {
			on = don
		} else {
			on, fromSchedule = son, true
		}
	case dOK:
		on = don
	case sOK:
		on, fromSchedule = son, true
	}
	return on, fromSchedule
}

// onAt is on for readers off the hub loop (Stats).
func (t *toggle) onAt(now time.Duration) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	on, _ := t.on(now)
	return on
}

// set records a dynamic change at now; with hold > 0 it reverts after hold.
// Hub loop.
func (t *toggle) set(now time.Duration, on bool, hold time.Duration) {
	t.mu.Lock()
	t.dynSet, t.dynOn, t.dynAt = true, on, now
	t.revert, t.revertAt = hold > 0, now+hold
	t.mu.Unlock()
}
