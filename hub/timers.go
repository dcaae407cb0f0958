package hub

// This file holds the core's timer heap, ordered by (time, creation): the
// copies that wait out a delay (delay.go) and callbacks (stall checks,
// hubtest's paced readers), with the Core methods that schedule them and
// run those due (RunDue). A Driver (driver.go) steps them in virtual time,
// a live Hub's Run with its clock's AfterFunc.

import "time"

// timer is one entry of the core's heap: a delayed delivery or a callback.
// Entries order by (at, seq): equal times run in the order they were
// scheduled, so a run repeats exactly.
type timer struct {
	at    time.Time
	seq   uint64
	port  PortID
	from  PortID    // delivery: the port the frame came in on
	sent  time.Time // delivery: when the policy decided it (its wait began)
	frame *Frame    // delivery: frame to port, with notes
	notes []Note
	fn    func() // callback, when frame is nil
	// mark: the delivery counts toward the hub-wide delay mark (its port
	// paused when it was delayed; see Core.markFrames).
	mark bool
}

// timerHeap is a binary min-heap written out for the one element type, so
// pushes and pops neither box values nor allocate beyond slice growth.
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timer{} // drop references for the GC
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// After schedules fn to run on the core's goroutine once the clock reaches
// now+d. Ties run in scheduling order.
func (c *Core) After(d time.Duration, fn func()) {
	c.at(c.clock.Now().Add(d), fn)
}

// at schedules fn for time t (at once if t has passed).
func (c *Core) at(t time.Time, fn func()) {
	c.seq++
	c.timers.push(timer{at: t, seq: c.seq, fn: fn})
}

// NextDeadline returns the time of the earliest pending timer.
func (c *Core) NextDeadline() (time.Time, bool) {
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].at, true
}

// Pending returns the number of timers (mostly delayed frames) waiting.
func (c *Core) Pending() int { return len(c.timers) }

// RunDue runs every timer due at the clock's current time, in (time, seq)
// order. A delivery is observed at its scheduled time, not at the (possibly
// later) moment the loop got to it, so captures do not depend on scheduling.
func (c *Core) RunDue() {
	if len(c.timers) > 0 {
		c.runDue(c.clock.Now())
	}
}

func (c *Core) runDue(now time.Time) {
	for len(c.timers) > 0 && !c.timers[0].at.After(now) {
		t := c.timers.pop()
		if t.frame != nil {
			c.delayedFrames--
			c.delayedBytes -= t.frame.Footprint()
			dp := c.ports[t.port]
			dp.delayed--
			dp.delayedBytes -= t.frame.Footprint()
			if t.mark {
				c.markFrames--
				c.markBytes -= t.frame.Footprint()
			}
			queued := false
			if n, cut := c.cut(t.seq, t.sent, t.at, t.from, t.port); cut {
				c.dropCopy(t.at, t.port, t.frame, t.notes, t.from, DropPolicy, n) // as the policy drops on a cut link
			} else {
				queued = c.deliver(t.at, t.port, t.frame, t.notes, t.from) == DropNone
			}
			if !queued && (dp.congested || dp.delayHeld) && !dp.removed && dp.out != nil && c.queueDrained(dp, dp.out.Depth()) {
				c.Drained(t.port) // what waits for it went down with no take to say so
			}
			c.lowerDelayMark()
			c.recycleNotes(t.notes)
		} else if t.fn != nil {
			t.fn()
		}
	}
}
