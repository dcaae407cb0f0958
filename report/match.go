package report

import (
	"bytes"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// A copy a port received (an egress record) is matched here to the frame
// it is a copy of: by its bytes, or, for a corrupted copy, by the bits its
// note says were flipped; a held (delayed) copy by how long its notes say
// it waited; an injected record is a copy of none.

// egressRecord matches what a port received to the frame it is a copy of.
// An injected record (inj) is a copy of none, whatever its bytes (a
// replayed frame repeats one a port sent): it is a frame of the hub's own.
func (b *builder) egressRecord(p capture.Packet, port int, c comment, inj bool) {
	dropped, notes := b.notes(c)
	var kind DeliveryKind
	var reasons []string
	var flipped []int // the bits corrupt notes say they flipped
	var wait time.Duration
	waitKnown := true
	for _, n := range notes {
		switch {
		case delayActions[n.Action]:
			kind |= Delayed
			if b.egressOnly { // where it tells a held copy's frame
				w, ok := heldFor(n)
				wait, waitKnown = wait+w, waitKnown && ok
			}
		case n.Action == "duplicate":
			kind |= Duplicate
		case n.Action == "reorder":
			kind |= Reordered
		case n.Action == "corrupt":
			kind |= Corrupted
			flipped = appendFlipped(flipped, n.Detail)
		}
		if dropped {
			reasons = append(reasons, n.Reason())
		}
	}
	why := -1
	if dropped {
		why = dropNote(notes)
	}
	// When the frame was sent: a held copy arrives (or is cut) when its
	// wait is over, unless it was dropped for want of room to wait.
	t, h := b.rel(p.Time), contentHash(p.Data)
	m := matchBy{port: port, t: t, sent: t, kind: kind}
	if kind&Delayed != 0 && why >= 0 && notes[why].Action == "delay-full" {
		m.kind &^= Delayed
	} else if kind&Delayed != 0 {
		m.sent = noTime
		if waitKnown && wait <= maxHeld {
			m.sent = t - wait
		}
	}
	fi := -1
	var orig []byte // the bytes a corrupted copy was made from, when its notes say
	guessed := false
	if !inj {
		fi = b.match(h, m)
		if fi < 0 && kind&Corrupted != 0 {
			fi, orig, guessed = b.matchCorrupt(p.Data, flipped, p.OrigLen, m)
		}
	}
	if fi < 0 { // no ingress record: the hub made it (injected), or the capture began after it, or records egress only
		q := p
		if orig != nil && b.egressOnly {
			q.Data = orig // its other copies join it, and this one is the corrupted one
		}
		fi = b.newFrame(q, -1, "")
		f := &b.m.Frames[fi]
		f.Number, f.Injected = 0, inj
		if b.egressOnly && !inj {
			// Its other copies join it (eligible); a corrupted one
			// without its bits is compared with it too.
			f.copies = true
			f.garbled = kind&Corrupted != 0 && orig == nil
			if m.kind&Delayed != 0 && m.sent != noTime {
				f.Time = m.sent // drawn when it was sent
			}
			if f.Time < b.lastSent {
				b.unsorted = true
			}
			b.lastSent = max(b.lastSent, f.Time)
			s := b.sized[p.OrigLen]
			if len(s) == corruptRecent {
				s = s[1:]
			}
			b.sized[p.OrigLen] = append(s, int32(fi))
		}
	}
	f := &b.m.Frames[fi]
	if dropped {
		// Its rule and action, as an ingress drop's, from the note that
		// dropped it: what groups tell drops apart by, and bands read.
		d := Drop{To: port, Number: p.Number, Reason: b.dropReason(reasons, notes), at: t, kind: kind, guessed: guessed}
		if why >= 0 {
			n := notes[why]
			d.Rule, d.Action = b.keepOr(cleanText(n.Rule, maxRuleText), ""), action(n.Action)
		}
		if b.addDrop(fi, d) && isBand(d.Action) {
			f.Drops[len(f.Drops)-1].band = b.bandOf(notes[why])
		}
		b.m.at[p.Number] = ref{int32(fi), -1}
		return
	}
	d := Delivery{Number: p.Number, To: port, Time: t, Kind: kind, Comment: c.shown, guessed: guessed}
	if inj {
		d.Kind |= Injected
	}
	if kind&Corrupted != 0 || h != f.sum {
		d.Kind |= Corrupted
		d.Data = b.clip(p.Data)
	}
	b.m.at[p.Number] = ref{int32(fi), -1}
	if b.addDelivery(fi, d) {
		b.m.at[p.Number].delivery = int32(len(f.Deliveries) - 1)
	}
}

// dropNote returns the index of the note that says why an egress record
// was dropped: the last drop action (the hub adds its own, or the cut
// that ended a wait, after the rules' notes), else the last note that is
// no rule's mark on a copy; -1 for none.
func dropNote(notes []note) int {
	last := -1
	for i, n := range notes {
		switch {
		case isDropAction(n.Action):
			last = i
		case !delayActions[n.Action] && !copyMarks[n.Action] && n.Action != "":
			if last < 0 || !isDropAction(notes[last].Action) {
				last = i
			}
		}
	}
	return last
}

// isDropAction reports whether a note's action dropped what it is on: the
// policy's and the hub's (hub.IsDropAction), and the hub's own egress drops
// for a port with no peer (port-down) or a frame larger than it takes
// (oversize).
func isDropAction(a string) bool {
	return hub.IsDropAction(a) || a == "port-down" || a == "oversize"
}

// copyMarks are the notes rules put on a copy they let through, changed.
var copyMarks = map[string]bool{"duplicate": true, "reorder": true, "corrupt": true, "inject": true}

// matchBy is what an egress record is matched by: its port and time, when
// its frame was sent (noTime: a held copy whose notes do not say how long
// it waited), and what the rules did to it.
type matchBy struct {
	port    int
	t, sent time.Duration
	kind    DeliveryKind
}

// noTime is a send time not known.
const noTime = time.Duration(math.MinInt64)

// heldSlack is how far a held copy's send time (its arrival less the wait
// its notes give) may be from its frame's in a capture of egress only: the
// hub stamps a held copy at the end of its wait to the nanosecond; a
// capture rewritten in microseconds is off by less than one.
const heldSlack = time.Microsecond

// match finds the frame an egress record of these bytes is a copy of,
// among the recent frames with the same bytes: for a held copy (a delay,
// a rate limit's queue) the oldest one port may still get, else the
// newest, preferring one sent at the same instant. In a capture of egress
// only, where a frame is known only by its copies, a held copy joins the
// frame sent when its wait began (matchHeld). -1 if none.
func (b *builder) match(h uint64, m matchBy) int {
	cands := b.recent[h]
	if m.kind&Delayed != 0 {
		if b.egressOnly {
			return b.matchHeld(cands, m)
		}
		for _, fi := range cands {
			if b.eligible(int(fi), m.port, m.t, m.kind) {
				return int(fi)
			}
		}
		return -1
	}
	best := -1
	for i := len(cands) - 1; i >= 0; i-- {
		fi := int(cands[i])
		if !b.eligible(fi, m.port, m.t, m.kind) {
			continue
		}
		if b.m.Frames[fi].Time == m.t {
			return fi
		}
		if best < 0 {
			best = fi
		}
	}
	return best
}

// matchHeld finds, in a capture of egress only, the frame a held copy
// belongs to: of the frames with its bytes that its port may still get,
// the one sent when its wait began (within heldSlack), the nearest. A
// frame whose own held copy was lost before it was recorded (a loss rule
// decides at ingress, which is not recorded) is not the frame of the
// next identical one. When the notes do not say how long it waited, it is
// the one such frame, else none (heldAmbiguous counts it): -1.
func (b *builder) matchHeld(cands []int32, m matchBy) int {
	best, bestGap, n := -1, heldSlack+1, 0
	for _, c := range cands {
		fi := int(c)
		if !b.eligible(fi, m.port, m.t, m.kind) {
			continue
		}
		n++
		if m.sent == noTime {
			best = fi
			continue
		}
		if gap := max(b.m.Frames[fi].Time-m.sent, m.sent-b.m.Frames[fi].Time); gap < bestGap {
			best, bestGap = fi, gap
		}
	}
	if m.sent == noTime && n > 1 {
		b.heldAmbiguous++
		return -1
	}
	return best
}

// eligible reports whether port may get a copy of frame fi at t: another
// port sent it before, it was not dropped on the way to port, and port
// has no copy yet (unless this one is a duplicate). In a capture of
// egress only, a copy joins the frame another copy made at the same
// instant, or before it when the copy was held (a delay).
func (b *builder) eligible(fi, port int, t time.Duration, kind DeliveryKind) bool {
	f := &b.m.Frames[fi]
	if f.From == port || f.Time > t || f.Number == 0 && !(f.copies && (f.Time == t || kind&Delayed != 0)) {
		return false
	}
	if l := b.links[int32(fi)]; l != nil {
		return !l.dropped.has(port) && (kind&Duplicate != 0 || !l.got.has(port))
	}
	for _, d := range f.Drops {
		if d.To == port {
			return false
		}
	}
	return kind&Duplicate != 0 || !b.delivered(fi, port)
}

// maxCorruptDistance is how many bits a corrupted copy may differ from its
// frame in (a corrupt rule flips a few).
const maxCorruptDistance = 64

// matchCorrupt finds the frame a corrupted copy of n bytes on the wire came
// from. When its notes say which bits were flipped (flipped), they are
// flipped back (orig) and the frame is the one with those bytes, as for
// any copy. Otherwise (guessed) it is, of the newest frames of the same
// length the port may get (corruptRecent), the one its bytes differ least
// from, by few enough bits, over the bytes both keep: a frame past
// Limits.MaxHexTotal keeps its first minHex. In a capture of egress only,
// where those frames are any port's copies, a copy with its bits joins no
// frame by its distance (its own frame, not recorded yet, is made from
// orig), and one without joins only a frame from the same source MAC: the
// copies of two hosts' frames may differ by few bits.
func (b *builder) matchCorrupt(data []byte, flipped []int, n int, m matchBy) (fi int, orig []byte, guessed bool) {
	if len(flipped) > 0 {
		orig = slices.Clone(data)
		for _, bit := range flipped {
			if bit/8 < len(orig) {
				orig[bit/8] ^= 0x80 >> (bit % 8)
			}
		}
		if fi := b.match(contentHash(orig), m); fi >= 0 || b.egressOnly {
			return fi, orig, false
		}
	}
	best, bestDist := -1, maxCorruptDistance+1
	clip := data[:min(len(data), b.lim.HexBytes)]
	cands := b.sized[n]
	for i := len(cands) - 1; i >= 0; i-- {
		fi := int(cands[i])
		f := &b.m.Frames[fi]
		b.m.corruptCompares++
		both := min(len(f.Data), len(clip))
		if both < min(len(clip), minHex) || !b.eligible(fi, m.port, m.t, m.kind) {
			continue
		}
		if b.egressOnly && (both < 12 || !bytes.Equal(f.Data[6:12], clip[6:12]) || m.kind&Delayed != 0 && m.sent != noTime && max(f.Time-m.sent, m.sent-f.Time) > heldSlack) {
			continue
		}
		d := 0
		for i := range both {
			d += bits.OnesCount8(clip[i] ^ f.Data[i])
			if d >= bestDist {
				break
			}
		}
		if d < bestDist {
			best, bestDist = fi, d
		}
		if bestDist <= len(flipped) {
			break // as close as the notes say it can be
		}
	}
	return best, nil, best >= 0
}

// appendFlipped appends the bits a corrupt note's detail says it flipped
// ("p=0.01 draw=0.0021 bits=490,443,404"), at most maxCorruptDistance.
func appendFlipped(bits []int, detail string) []int {
	_, list, ok := strings.Cut(detail, "bits=")
	if !ok {
		return bits
	}
	list, _, _ = strings.Cut(list, " ")
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || len(bits) == maxCorruptDistance {
			break
		}
		bits = append(bits, n)
	}
	return bits
}

func (b *builder) delivered(fi, port int) bool {
	for _, d := range b.m.Frames[fi].Deliveries {
		if d.To == port {
			return true
		}
	}
	return false
}
