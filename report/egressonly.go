package report

import (
	"cmp"
	"math/bits"
	"slices"
	"time"
)

// record is the capture number that finds frame f: its own record's, else
// (a frame with no ingress record) its first copy's or drop's; 0 for none.
func (f *Frame) record() int {
	switch {
	case f.Number > 0:
		return f.Number
	case len(f.Deliveries) > 0:
		return f.Deliveries[0].Number
	case len(f.Drops) > 0:
		return f.Drops[0].Number
	}
	return 0
}

// sortFrames puts the frames of a capture of egress only in the order they
// were sent: a frame whose every copy was held is made when its first copy
// arrives, at the time it was sent.
func (b *builder) sortFrames() {
	if !b.unsorted {
		return
	}
	order := make([]int32, len(b.m.Frames)) // new index -> old
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(x, y int32) int { return cmp.Compare(b.m.Frames[x].Time, b.m.Frames[y].Time) })
	moved := make([]int32, len(order)) // old index -> new
	frames := make([]Frame, len(order))
	for i, old := range order {
		frames[i] = b.m.Frames[old]
		moved[old] = int32(i)
	}
	b.m.Frames = frames
	for i := range b.m.at {
		if r := &b.m.at[i]; r.frame >= 0 {
			r.frame = moved[r.frame]
		}
	}
	b.links = map[int32]*frameLinks{} // by the old indices; only matching reads them
}

// heldWarning says how many held copies of a capture of egress only
// were not joined to a frame.
func (b *builder) heldWarning() {
	if b.heldAmbiguous > 0 {
		b.warn("%d delayed copies could belong to any of several identical frames (their notes do not say how long they waited): each is drawn as a frame of its own, when it arrived", b.heldAmbiguous)
	}
}

// senders gives the frames of a capture of egress only (--capture-points
// egress) their senders, which no record names: the sender of a frame is
// the port its source MAC sends from, and a port is never given a frame
// it sent. So a MAC's port is the one port that never received (or was
// dropped) a frame from it; when several never did (it sent only
// unicast), the one of them that received frames addressed to it. A
// corrupted copy joined to a frame by its likeness alone (guessed) counts
// for neither. A MAC seen behind another port too is told by no port: a
// learning switch sends a frame addressed to a MAC it knows to that MAC's
// port alone, so one such frame that went to another port, after the MAC
// first sent, says the MAC was learned there (two VMs share it, or it
// moved). A frame whose MAC's port is not told so is drawn from the hub,
// and a warning counts them.
func (b *builder) senders() {
	if !b.egressOnly {
		return
	}
	type mac = [6]byte
	type ports struct {
		sent                  bool
		first                 time.Duration // when it first sent
		got, addressed, alone portSet
	}
	seen := map[mac]*ports{}
	at := func(m mac) *ports {
		p := seen[m]
		if p == nil {
			p = &ports{}
			seen[m] = p
		}
		return p
	}
	frames := 0
	for i := range b.m.Frames { // in the order they were sent
		f := &b.m.Frames[i]
		if !f.copies {
			continue
		}
		frames++
		if f.garbled || len(f.Data) < 14 || f.Data[6]&1 != 0 { // a multicast source sends from no port
			continue
		}
		src := at(mac(f.Data[6:12]))
		if !src.sent {
			src.sent, src.first = true, f.Time
		}
		var dst *ports
		if f.Data[0]&1 == 0 {
			dst = at(mac(f.Data[0:6]))
		}
		var to portSet
		add := func(port int, guessed bool) {
			if guessed {
				return
			}
			src.got.add(port)
			to.add(port)
			if dst != nil {
				dst.addressed.add(port)
			}
		}
		for _, d := range f.Deliveries {
			add(d.To, d.guessed)
		}
		for _, d := range f.Drops {
			add(d.To, d.guessed)
		}
		if dst != nil && dst.sent && dst.first < f.Time {
			if port, ok := onePort(to); ok {
				dst.alone.add(port)
			}
		}
	}
	if frames == 0 {
		return
	}
	n := len(b.m.Ports)
	owner := map[mac]int{}
	shared := 0
	for m, p := range seen {
		if !p.sent {
			continue
		}
		port, ok := onlyMissing(p.got, nil, n)
		if !ok {
			port, ok = onlyMissing(p.got, p.addressed, n)
		}
		if !ok {
			continue
		}
		if !b.hubMode && othersIn(p.alone, port) {
			shared++
			continue
		}
		owner[m] = port
	}
	unknown := 0
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		if !f.copies {
			continue
		}
		if len(f.Data) >= 14 && !f.garbled {
			if p, ok := owner[mac(f.Data[6:12])]; ok {
				f.From = p
				continue
			}
		}
		unknown++
	}
	w := "the capture records egress only (its header says points=egress): the copies of a frame are joined by their bytes and time, and its sender is told from its source MAC (the port that never received a frame from it)"
	switch {
	case unknown > 0 && shared > 0:
		b.warn("%s; %d of %d frames' senders could not be told so and are drawn from the hub (%d MACs were seen behind more than one port)", w, unknown, frames, shared)
	case unknown > 0:
		b.warn("%s; %d of %d frames' senders could not be told so and are drawn from the hub", w, unknown, frames)
	default:
		b.warn("%s", w)
	}
}

// onePort returns the port in s, if it holds exactly one.
func onePort(s portSet) (port int, ok bool) {
	port = -1
	for w, word := range s {
		switch c := bits.OnesCount64(word); {
		case c == 0:
		case c > 1 || port >= 0:
			return 0, false
		default:
			port = w*64 + bits.TrailingZeros64(word)
		}
	}
	return port, port >= 0
}

// othersIn reports whether s holds a port other than port.
func othersIn(s portSet, port int) bool {
	for w, word := range s {
		if port/64 == w {
			word &^= 1 << (port % 64)
		}
		if word != 0 {
			return true
		}
	}
	return false
}

// onlyMissing returns the one port of n that is not in got (and, when
// within is not nil, is in within), if exactly one is.
func onlyMissing(got, within portSet, n int) (port int, ok bool) {
	found := -1
	for w := 0; w*64 < n; w++ {
		var word uint64
		if w < len(got) {
			word = got[w]
		}
		free := ^word
		if within != nil {
			free = 0
			if w < len(within) {
				free = within[w] &^ word
			}
		}
		if rest := n - w*64; rest < 64 {
			free &= 1<<rest - 1
		}
		switch c := bits.OnesCount64(free); {
		case c == 0:
		case c > 1 || found >= 0:
			return 0, false
		default:
			found = w*64 + bits.TrailingZeros64(free)
		}
	}
	return found, found >= 0
}
