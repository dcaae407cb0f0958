package replay

// This file lines up the clocks of per-VM captures. Each QEMU stamps its
// filter-dump file with its own clock, and two of them can disagree by
// milliseconds (more when one VM booted later). Merged by their stamps as
// they are, a reply could then come before the frame it answers: a
// SYN-ACK before its SYN, and the checker and the report blame a VM for it.
//
// The copies of one frame in two inputs bound the offset between their
// clocks. A frame X sent is in X's file when it left and in Y's when it
// arrived, so Y's copy is not earlier than X's once the clocks agree; a
// frame Y sent bounds it the other way. For each pair of inputs that gives
// an interval for the shift one needs against the other; a shift for every
// input that keeps every pair in its interval (difference constraints,
// solved by relaxation from all zero) moves no input that needs no move,
// and the least it can the others. Inputs whose stamps already agree with
// causality keep them.

import (
	"fmt"
	"strings"
	"time"
)

// maxShiftPasses bounds the relaxation: a solution is found within as
// many passes as there are inputs, or there is none.
const maxShiftPasses = 1024

// clockBound is what the copies in two inputs x and y say about the shift
// between them (see clockShifts): lo <= shift[y]-shift[x] <= hi, each
// bound only where some frame gave it.
type clockBound struct {
	x, y         int // channels, x < y
	lo, hi       time.Duration
	hasLo, hasHi bool
}

// clockShifts returns how much earlier than stamped each of chans' frames
// are to be replayed so that no frame comes before its copy in the input
// of the VM that sent it (only channels that need one are in the map).
// owners are the senders decided so far: only those timing or the user
// decided bound a shift. Copies are matched by content among the frames
// that occur once in each input's sample, so a frame sent again alike (an
// ARP request, an announce) cannot be matched with another sending of it.
// group holds the channels some pair of copies bounds, each with the
// least channel of those its bounds join it to, directly or through
// others: only those say anything of its clock.
// ok is false when no set of shifts satisfies every pair: the clocks drift
// apart over the sample (or the pairs of three or more contradict one
// another), and the inputs are left as stamped; a and b then name two
// inputs whose copies disagree.
func (s *sampler) clockShifts(chans []int, owners map[[6]byte]owner) (shift map[int]time.Duration, group map[int]int, ok bool, a, b int) {
	type stamp struct {
		mac [6]byte
		t   time.Time
	}
	once := make(map[int]map[uint64]stamp, len(chans))
	for _, ch := range chans {
		seen := map[uint64]int{}
		for _, x := range s.byChan[ch] {
			seen[x.h]++
		}
		m := map[uint64]stamp{}
		for _, x := range s.byChan[ch] {
			if seen[x.h] == 1 && !x.t.IsZero() {
				m[x.h] = stamp{x.mac, x.t}
			}
		}
		once[ch] = m
	}
	var bounds []clockBound
	for i, x := range chans {
		for _, y := range chans[i+1:] {
			b := clockBound{x: x, y: y}
			for _, v := range s.byChan[x] { // sample order: deterministic
				sx, okx := once[x][v.h]
				sy, oky := once[y][v.h]
				if !okx || !oky {
					continue
				}
				o, known := owners[sx.mac]
				if !known || (o.how != ownerTiming && o.how != ownerFlag) {
					continue
				}
				d := sy.t.Sub(sx.t)
				switch o.ch {
				case x: // sent by x: y's copy is not earlier
					if !b.hasHi || d < b.hi {
						b.hi, b.hasHi = d, true
					}
				case y: // sent by y: x's copy is not earlier
					if !b.hasLo || d > b.lo {
						b.lo, b.hasLo = d, true
					}
				}
			}
			if b.hasLo || b.hasHi {
				if b.hasLo && b.hasHi && b.lo > b.hi {
					return nil, nil, false, x, y
				}
				bounds = append(bounds, b)
			}
		}
	}
	shift, group = map[int]time.Duration{}, map[int]int{}
	for _, b := range bounds {
		for _, ch := range []int{b.x, b.y} {
			if _, ok := group[ch]; !ok {
				group[ch] = ch
			}
		}
		// Join b.y's group to b.x's, keeping the least channel (chans
		// are few: relabelling is enough).
		from, to := group[b.y], group[b.x]
		if from < to {
			from, to = to, from
		}
		for ch, g := range group {
			if g == from {
				group[ch] = to
			}
		}
	}
	var moved clockBound // the last bound that moved a shift
	for pass := 0; ; pass++ {
		if pass > len(chans) || pass >= maxShiftPasses {
			// Still moving: the pairs' intervals admit no common
			// solution, and the pair that moved last is on, or after, a
			// cycle of them that contradicts itself.
			return nil, nil, false, moved.x, moved.y
		}
		changed := false
		for _, b := range bounds {
			// shift[y] - shift[x] >= lo: raise y; <= hi: raise x.
			if b.hasLo && shift[b.y] < shift[b.x]+b.lo {
				shift[b.y], changed, moved = shift[b.x]+b.lo, true, b
			}
			if b.hasHi && shift[b.x] < shift[b.y]-b.hi {
				shift[b.x], changed, moved = shift[b.y]-b.hi, true, b
			}
		}
		if !changed {
			break
		}
	}
	for ch, d := range shift {
		if d == 0 {
			delete(shift, ch)
		}
	}
	return shift, group, true, 0, 0
}

// lineUpClocks works out the inputs' clock shifts from the sample (see
// clockShifts) for the per-VM inputs of one link each, notes each shift
// made or the disagreement that prevented them, and moves the replay's
// first time with them. first holds each input's first stamp.
func (r *Replayer) lineUpClocks(smp *sampler, vm []int, first map[int]time.Time) {
	var chans []int
	for _, ch := range vm {
		if !r.links[r.chans[ch].input] {
			chans = append(chans, ch)
		}
	}
	if len(chans) < 2 {
		return
	}
	shift, group, ok, a, b := smp.clockShifts(chans, r.owners)
	path := func(ch int) string { return r.cfg.Inputs[r.chans[ch].input].Path }
	if !ok {
		r.notes = append(r.notes, warning(NoteClock, path(a), fmt.Sprintf(
			"its clock and %s's disagree in a way no constant offset explains (they drift apart, three or more inputs' offsets contradict one another, or a frame sent twice alike was matched): "+
				"the inputs are replayed as stamped, so a frame may come before the one it answers; "+
				"judge them with `l2hub check` on the files themselves, or capture the run on the hub", path(b))))
		return
	}
	if len(shift) == 0 {
		return
	}
	r.shift = map[int]time.Duration{}
	for _, ch := range chans {
		d := shift[ch]
		if d == 0 {
			continue
		}
		// The inputs left as stamped that its copies bound, directly or
		// through others: an input that shares no frame with them says
		// nothing of its clock.
		var ref []string
		for _, o := range chans {
			if g, ok := group[o]; ok && shift[o] == 0 && g == group[ch] {
				ref = append(ref, path(o))
			}
		}
		in := r.chans[ch].input
		r.shift[in] = d
		r.notes = append(r.notes, newNote(NoteClock, path(ch), fmt.Sprintf(
			"its clock ran %s ahead of %s (a frame it sent is stamped later than another input's copy of it): its frames are replayed %s earlier than stamped, so that none comes before the frame it answers",
			d, clocksOf(ref), d)))
	}
	r.first = time.Time{}
	for in, t := range first {
		t = t.Add(-r.shift[in])
		if r.first.IsZero() || t.Before(r.first) {
			r.first = t
		}
	}
}

// clocksOf names the clocks of the inputs names as a sentence lists them:
// "b.pcap's", "b.pcap's and c.pcap's".
func clocksOf(names []string) string {
	switch len(names) {
	case 0: // relaxation from zero leaves one input of each group as stamped: never
		return "the other inputs'"
	case 1:
		return names[0] + "'s"
	}
	return strings.Join(names[:len(names)-1], "'s, ") + "'s and " + names[len(names)-1] + "'s"
}
