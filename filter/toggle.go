package filter

import (
	"sync"
	"sync/atomic"
	"time"
)

// A toggle is an on/off state over time: a partition (on = separated) or a
// port's link (on = down). It combines a schedule (from the policy file,
// completed by triggers as they fire) with control API calls. The latest
// change wins; a control call made at the same instant as a scheduled
// transition wins over it. Everything is computed from now in closed form,
// so a schedule costs nothing while it is idle and a clock jump skips no
// transition.
type toggle struct {
	// The schedule. One window [start, end), either bound possibly
	// missing, or with every > 0 a repetition of
	// [start+k*every, start+k*every+length) for k < count (count 0 =
	// forever). When end <= start the window is empty: the schedule ends
	// before it starts. A partition's triggers set start and end as they
	// fire (trigger.hit).
	hasStart, hasEnd bool
	start, end       time.Duration
	every, length    time.Duration
	count            int64

	// Control calls: the latest set it on (or off) at dynAt.
	dynSet bool
	dynOn  bool
	dynAt  time.Duration

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

// ended reports whether the schedule's window is over at now: its end has
// come (a repeating schedule never ends this way).
func (t *toggle) ended(now time.Duration) bool {
	return t.every == 0 && t.hasEnd && now >= t.end
}

// on evaluates the toggle at now; fromSchedule says whether the schedule
// (rather than a control call) decided it. Hub loop, or under mu.
func (t *toggle) on(now time.Duration) (on, fromSchedule bool) {
	son, sAt, sOK := t.static(now)
	switch {
	case sOK && t.dynSet:
		if t.dynAt >= sAt {
			return t.dynOn, false
		}
		return son, true
	case t.dynSet:
		return t.dynOn, false
	case sOK:
		return son, true
	}
	return false, false
}

// onAt is on for readers off the hub loop (Stats).
func (t *toggle) onAt(now time.Duration) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	on, _ := t.on(now)
	return on
}

// set records a control call at now. Hub loop.
func (t *toggle) set(now time.Duration, on bool) {
	t.mu.Lock()
	t.dynSet, t.dynOn, t.dynAt = true, on, now
	t.mu.Unlock()
}

// startAt sets the schedule's start to now (a start trigger fired), and
// its end to now+hold when hold > 0, unless the window is already over:
// a fixed end, or an end trigger fired, is final. Hub loop.
func (t *toggle) startAt(now, hold time.Duration) {
	if t.ended(now) {
		return
	}
	t.mu.Lock()
	t.hasStart, t.start = true, now
	if hold > 0 {
		t.hasEnd, t.end = true, now+hold
	}
	t.mu.Unlock()
}

// endAt sets the schedule's end to now (an end trigger fired). Hub loop.
func (t *toggle) endAt(now time.Duration) {
	t.mu.Lock()
	t.hasEnd, t.end = true, now
	t.mu.Unlock()
}
