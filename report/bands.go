package report

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// maxBands bounds the bands of a report: every distinct partition or
// link-down note opens one, and a crafted capture can hold a distinct one
// per record. Drops of further ones are counted in a warning.
const maxBands = 1024

// bands turns the drops of partitions and links set down into windows. A
// window is open from its first drop; a frame delivered across it (between
// two sides of the partition, to or from the port that was down) closes it.
// Drops and deliveries are taken in the order they happened: a copy held
// by a delay is delivered, or cut, when its wait ends, after frames sent
// later. A held copy is cut when its link was cut at any time of its wait,
// so its drop, stamped when the wait ended, may come after the window
// healed: it counts for that window, which it does not widen. A delivery
// costs a look at the open bands' bits (bandIndex), and a visit only to the
// bands it crosses. Bands are told apart by what their notes name
// (Drop.band), whole, whatever Limits.MaxText leaves of their names.
func (b *builder) bands() {
	evs := b.bandEvents()
	if len(evs) == 0 {
		return
	}
	open := map[int32]int{}   // band key -> index into m.Bands
	healed := map[int32]int{} // band key -> its last band, healed
	ix := newBandIndex(len(b.m.Ports))
	notDrawn := 0
	for _, ev := range evs {
		f := &b.m.Frames[ev.frame]
		if ev.index < 0 {
			d := &f.Drops[-1-ev.index]
			if bi, ok := open[d.band]; ok {
				bd := &b.m.Bands[bi]
				bd.End, bd.Last = ev.at, d.Number
				bd.Drops++
				continue
			}
			if bi, ok := healed[d.band]; ok && ev.at > f.Time && b.m.Bands[bi].HealedAt >= f.Time {
				b.m.Bands[bi].Drops++ // cut during a wait that outlasted the window
				continue
			}
			if d.band == 0 || len(b.m.Bands) == maxBands {
				notDrawn++
				continue
			}
			k := b.bandKeys[d.band-1]
			bi := len(b.m.Bands)
			open[d.band] = bi
			b.drawnKeys = append(b.drawnKeys, d.band)
			b.m.Bands = append(b.m.Bands, Band{
				Kind: d.Action, Ports: b.bandPorts(d.Action, k.detail, f.From, d.To),
				Start: ev.at, End: ev.at, Drops: 1, First: d.Number, Last: d.Number,
			})
			b.nameBand(&b.m.Bands[bi], k.rule, k.detail)
			if d.Action == "down" {
				ix.addDown(bi, b.m.Bands[bi].Ports)
			} else {
				ix.addPartition(bi, b.sides(k.detail, f.From, d.To))
			}
			continue
		}
		d := &f.Deliveries[ev.index]
		ix.crossed(f.From, d.To, func(bi int) {
			b.m.bandVisits++
			bd := &b.m.Bands[bi]
			if d.Time > bd.End {
				bd.Healed, bd.HealedAt = d.Number, d.Time
				key := b.drawnKeys[bi]
				delete(open, key)
				healed[key] = bi
				ix.remove(bi)
			}
		})
	}
	if notDrawn > 0 {
		b.warn("%d drops of more partitions or links set down are not drawn as bands: a report draws at most %d", notDrawn, maxBands)
	}
}

// bandEvent is a drop that may open or widen a band, or a delivery that
// may heal one, at its time: frame's Deliveries[index], or, for index < 0,
// its Drops[-1-index] (16 bytes an event: a capture has up to
// Limits.MaxArrows).
type bandEvent struct {
	at           time.Duration
	frame, index int32
}

// bandEvents are the drops of partitions and links set down and the
// deliveries that may cross them, in time order (as the frames put them
// when at the same time); none when no drop opens a band.
func (b *builder) bandEvents() []bandEvent {
	var evs []bandEvent
	banded := false
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		for j, d := range f.Drops {
			if isBand(d.Action) {
				banded = true
				evs = append(evs, bandEvent{at: max(f.Time, d.at), frame: int32(i), index: int32(-1 - j)})
			}
		}
		if f.From < 0 {
			continue
		}
		for j, d := range f.Deliveries {
			if d.Kind&Inferred == 0 {
				evs = append(evs, bandEvent{at: d.Time, frame: int32(i), index: int32(j)})
			}
		}
	}
	if !banded {
		return nil
	}
	slices.SortStableFunc(evs, func(x, y bandEvent) int { return cmp.Compare(x.at, y.at) })
	return evs
}

// nameBand gives bd its name and spec, charged to Limits.MaxText; past
// it, their first minText bytes.
func (b *builder) nameBand(bd *Band, name, spec string) {
	cut := 0
	bd.Name, bd.Spec = b.keepShort(name, &cut), b.keepShort(spec, &cut)
	if cut > 0 {
		b.bandsCut++
	}
}

// bandPorts are the lifelines a band covers: the ports its spec names
// ("a,b|c", "port b"), else the link it was seen on.
func (b *builder) bandPorts(action, spec string, from, to int) []int {
	var names []string
	if action == "down" {
		names = []string{strings.TrimPrefix(spec, "port ")}
	} else {
		names = strings.FieldsFunc(spec, func(r rune) bool { return r == '|' || r == ',' })
	}
	var ports []int
	for _, n := range names {
		if i, ok := b.ports[strings.TrimSpace(n)]; ok && !slices.Contains(ports, i) {
			ports = append(ports, i)
		}
	}
	if len(ports) == 0 {
		for _, p := range []int{from, to} {
			if p >= 0 && !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	slices.Sort(ports)
	return ports
}

// portSide is a lifeline on one side of a partition (sides from 1).
type portSide struct{ port, side int }

// sides are the sides of a partition ("a,b|c"): each port it names on
// the side of the first group naming it, the sides numbered in order
// among the groups that name a port here. A spec that names no port here
// splits the link it was seen on.
func (b *builder) sides(spec string, from, to int) []portSide {
	var out []portSide
	side := 0
	for g := range strings.SplitSeq(spec, "|") {
		named := false
		for n := range strings.SplitSeq(g, ",") {
			p, ok := b.ports[strings.TrimSpace(n)]
			if !ok || slices.ContainsFunc(out, func(s portSide) bool { return s.port == p }) {
				continue
			}
			if !named {
				named = true
				side++
			}
			out = append(out, portSide{p, side})
		}
	}
	if len(out) == 0 {
		for _, p := range []int{from, to} {
			if p >= 0 && !slices.ContainsFunc(out, func(s portSide) bool { return s.port == p }) {
				out = append(out, portSide{p, len(out) + 1})
			}
		}
	}
	return out
}

// bandIndex finds the open bands a delivery crosses with bit operations:
// one bit per band in each port's sets. A partition band is crossed from
// p to q when both are on a side of it (member) and their sides differ
// (in some bit of side-1, plane); a link-down band when p or q is down.
// A look costs a few words per 64 bands (at most maxBands), whatever the
// capture; a band is visited only when crossed.
type bandIndex struct {
	words  int        // words in use: (bands+63)/64
	member [][]uint64 // port -> partition bands it is on a side of
	down   [][]uint64 // port -> link-down bands it is in
	planes [][][]uint64
	ports  [][]int // band -> the ports whose bits it set
}

const bandWords = (maxBands + 63) / 64

func newBandIndex(ports int) *bandIndex {
	ix := &bandIndex{member: make([][]uint64, ports), down: make([][]uint64, ports)}
	for p := range ports {
		ix.member[p] = make([]uint64, bandWords)
		ix.down[p] = make([]uint64, bandWords)
	}
	return ix
}

func (ix *bandIndex) grow(bi int) {
	ix.words = max(ix.words, bi/64+1)
	for len(ix.ports) <= bi {
		ix.ports = append(ix.ports, nil)
	}
}

func (ix *bandIndex) addDown(bi int, ports []int) {
	ix.grow(bi)
	for _, p := range ports {
		ix.down[p][bi/64] |= 1 << (bi % 64)
	}
	ix.ports[bi] = ports
}

func (ix *bandIndex) addPartition(bi int, sides []portSide) {
	ix.grow(bi)
	ports := make([]int, 0, len(sides))
	for _, s := range sides {
		ix.member[s.port][bi/64] |= 1 << (bi % 64)
		v := s.side - 1
		for j := 0; v > 0; j, v = j+1, v>>1 {
			for len(ix.planes) <= j {
				plane := make([][]uint64, len(ix.member))
				for p := range plane {
					plane[p] = make([]uint64, bandWords)
				}
				ix.planes = append(ix.planes, plane)
			}
			if v&1 != 0 {
				ix.planes[j][s.port][bi/64] |= 1 << (bi % 64)
			}
		}
		ports = append(ports, s.port)
	}
	ix.ports[bi] = ports
}

// remove takes a closed band out.
func (ix *bandIndex) remove(bi int) {
	w, bit := bi/64, uint64(1)<<(bi%64)
	for _, p := range ix.ports[bi] {
		ix.member[p][w] &^= bit
		ix.down[p][w] &^= bit
		for _, plane := range ix.planes {
			plane[p][w] &^= bit
		}
	}
	ix.ports[bi] = nil
}

// crossed calls fn with each open band a delivery from p to q crosses, in
// the order they opened. fn may remove the band it is given.
func (ix *bandIndex) crossed(p, q int, fn func(bi int)) {
	for w := range ix.words {
		cut := ix.down[p][w] | ix.down[q][w]
		if both := ix.member[p][w] & ix.member[q][w]; both != 0 {
			var differ uint64
			for _, plane := range ix.planes {
				differ |= plane[p][w] ^ plane[q][w]
			}
			cut |= both & differ
		}
		for cut != 0 {
			j := bits.TrailingZeros64(cut)
			cut &= cut - 1
			fn(w*64 + j)
		}
	}
}

// bandKey is what a partition or link-down note names: its action
// ("partition", "down"), rule and detail (a partition's spec "a,b|c",
// "port b"), cleaned as a drop's are.
type bandKey struct{ action, rule, detail string }

// bandOf returns the band id (Drop.band) of the partition or link-down
// note n: 0 once maxBands distinct ones are known.
func (b *builder) bandOf(n note) int32 {
	k := bandKey{action(n.Action), cleanText(n.Rule, maxRuleText), cleanText(n.Detail, b.lim.MaxComment)}
	if id, ok := b.bandIDs[k]; ok {
		return id
	}
	if len(b.bandKeys) == maxBands {
		return 0
	}
	b.bandKeys = append(b.bandKeys, k)
	b.bandIDs[k] = int32(len(b.bandKeys))
	return int32(len(b.bandKeys))
}

// isBand reports whether a drop's action opens a band.
func isBand(action string) bool { return action == "partition" || action == "down" }
