package filter

import (
	"math"
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
//
// The fields describe the toggle from its latest change (a control call,
// a trigger firing) on; what it was before is kept as the latest instant
// it was on, which is all onSince needs to say whether it was on at any
// time while a frame waited out its delay.
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

	// History: the latest change was at changedAt; before it, the toggle
	// was last on at lastOn (when wasOn), decided by the schedule when
	// lastOnSched.
	changed, wasOn, lastOnSched bool
	changedAt, lastOn           time.Duration

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

// onSince reports whether the toggle was on at any instant from from to
// now, both included, and whether the schedule (rather than a control
// call) decided the latest such instant. Hub loop. A change made after
// now (a caller late to ask) counts as made by now.
func (t *toggle) onSince(from, now time.Duration) (on, fromSchedule bool) {
	if t.instant(from, now) {
		return t.on(now)
	}
	return t.onSinceSpan(from, now)
}

// instant reports whether onSince(from, now) asks about one instant that
// the fields describe, and so is on(now): what every Decide asks, which
// its caller may ask on directly.
func (t *toggle) instant(from, now time.Duration) bool {
	return from >= now && (!t.changed || t.changedAt <= now)
}

// onSinceSpan is onSince over more than one instant, or one before the
// latest change.
func (t *toggle) onSinceSpan(from, now time.Duration) (on, fromSchedule bool) {
	from = min(from, now)
	if t.changed {
		now = max(now, t.changedAt)
		from2 := max(from, t.changedAt)
		if on, sched := t.onIn(from2, now); on {
			return true, sched
		}
		if t.wasOn && t.lastOn >= from {
			return true, t.lastOnSched
		}
		return false, false
	}
	return t.onIn(from, now)
}

// onIn is onSince for from no earlier than the latest change, which the
// fields describe: on at from, or a scheduled start in (from, now]. (A
// control call made at or before from has no say once a scheduled
// transition after it comes, and there is no other kind of change after
// from.) It reports whether the schedule decided the first such instant.
func (t *toggle) onIn(from, now time.Duration) (on, fromSchedule bool) {
	if on, sched := t.on(from); on {
		return true, sched
	}
	return t.startsIn(from, now), true
}

// startsIn reports whether the schedule has an on-interval that starts in
// (from, now].
func (t *toggle) startsIn(from, now time.Duration) bool {
	if !t.hasStart || now <= from {
		return false
	}
	if t.every > 0 {
		k := int64(0) // the first start after from
		if from >= t.start {
			k = int64((from-t.start)/t.every) + 1
		}
		return (t.count == 0 || k < t.count) && t.start+time.Duration(k)*t.every <= now
	}
	empty := t.hasEnd && t.end <= t.start
	return !empty && from < t.start && t.start <= now
}

// change is called, under mu, before a change at now: the fields are
// about to stop describing the past, so the latest instant before now at
// which the toggle was on is kept (onSince).
func (t *toggle) change(now time.Duration) {
	lo := time.Duration(math.MinInt64)
	if t.changed {
		now = max(now, t.changedAt)
		lo = t.changedAt
	}
	if end := now - 1; lo <= end {
		if on, _ := t.onIn(lo, end); on {
			// The latest x in [lo, end] with the toggle on somewhere in
			// [x, end], which is on at x itself. A change is rare (a
			// control call, a trigger firing), and the search at most 64
			// steps.
			hi := end
			for lo < hi {
				mid := hi - time.Duration((uint64(hi)-uint64(lo))/2)
				if on, _ := t.onIn(mid, end); on {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			t.wasOn, t.lastOn = true, lo
			_, t.lastOnSched = t.on(lo)
		}
	}
	t.changed, t.changedAt = true, now
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
	t.change(now)
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
	t.change(now)
	t.hasStart, t.start = true, now
	if hold > 0 {
		t.hasEnd, t.end = true, now+hold
	}
	t.mu.Unlock()
}

// endAt sets the schedule's end to now (an end trigger fired). Hub loop.
func (t *toggle) endAt(now time.Duration) {
	t.mu.Lock()
	t.change(now)
	t.hasEnd, t.end = true, now
	t.mu.Unlock()
}
