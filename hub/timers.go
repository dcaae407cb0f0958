package hub

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
