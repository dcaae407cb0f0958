package report

import "math/bits"

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

// senders gives the frames of a capture of egress only (--capture-points
// egress) their senders, which no record names: the sender of a frame is
// the port its source MAC sends from, and a port is never given a frame
// it sent. So a MAC's port is the one port that never received (or was
// dropped) a frame from it; when several never did (it sent only
// unicast), the one of them that received frames addressed to it. A
// frame whose MAC's port is not told so is drawn from the hub, and a
// warning counts them.
func (b *builder) senders() {
	if !b.egressOnly {
		return
	}
	type mac = [6]byte
	type ports struct {
		sent           bool
		got, addressed portSet
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
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		if !f.copies {
			continue
		}
		frames++
		if len(f.Data) < 14 || f.Data[6]&1 != 0 { // a multicast source sends from no port
			continue
		}
		src := at(mac(f.Data[6:12]))
		src.sent = true
		var dst *ports
		if f.Data[0]&1 == 0 {
			dst = at(mac(f.Data[0:6]))
		}
		for _, d := range f.Deliveries {
			src.got.add(d.To)
			if dst != nil {
				dst.addressed.add(d.To)
			}
		}
		for _, d := range f.Drops {
			src.got.add(d.To)
		}
	}
	if frames == 0 {
		return
	}
	n := len(b.m.Ports)
	owner := map[mac]int{}
	for m, p := range seen {
		if !p.sent {
			continue
		}
		if port, ok := onlyMissing(p.got, nil, n); ok {
			owner[m] = port
		} else if port, ok := onlyMissing(p.got, p.addressed, n); ok {
			owner[m] = port
		}
	}
	unknown := 0
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		if !f.copies {
			continue
		}
		if len(f.Data) >= 14 {
			if p, ok := owner[mac(f.Data[6:12])]; ok {
				f.From = p
				continue
			}
		}
		unknown++
	}
	w := "the capture records egress only (its header says points=egress): the copies of a frame are joined by their bytes and time, and its sender is told from its source MAC (the port that never received a frame from it)"
	if unknown > 0 {
		b.warn("%s; %d of %d frames' senders could not be told so and are drawn from the hub", w, unknown, frames)
	} else {
		b.warn("%s", w)
	}
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
