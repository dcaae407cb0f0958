package replay

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// Per-VM captures (QEMU filter-dump, tcpdump on a VM's link) record both
// directions of one VM's link: the frames the VM sent and those it was
// given. The frame A sent is therefore in A's file and again in B's, and the
// socket multicast back end hands every member its own frames back, so
// filter-dump records each frame a VM sends twice (nexus-wire.md §6.2, §7.2).
// Classic pcap has no direction flag, so which copy is the sent one comes from
// the source MAC: each MAC has one owner, the input whose VM sent it.
//
// The owner is named by the user (--port NAME=MAC with NAME an input's port)
// or inferred from the first prepassFrames packets of every input. The
// inference reads time: copies of one frame in two files X and Y are matched
// by content, and for each source MAC the median of t_Y - t_X is taken. Each
// VM stamps frames with its own clock (QEMU's virtual clock), so the
// difference is clock offset plus latency for frames X sent, and clock
// offset minus latency for frames Y sent: MACs whose frames show up later in
// Y than the others are X's. Where timing says nothing (one-way traffic), the
// input holding the most copies wins, then the first input; Result.Owners
// says how each was decided so the user can correct it with --port.

const (
	// prepassFrames bounds how much of each per-VM input is read to infer
	// owners and echoes: enough for a run's first seconds, small in memory.
	prepassFrames = 1 << 17
	// echoWindow is how soon a multicast loopback echo follows the frame:
	// a few tens of microseconds on a host, even under QEMU's virtual clock;
	// the bound is generous, and identical frames from one VM this close
	// together are otherwise rare (IPv4 IDs and TCP timestamps differ).
	echoWindow = 50 * time.Millisecond
	// maxEchoPending bounds the frames a frameWindow holds: those waiting
	// for their echo, or for their copy in another input.
	maxEchoPending = 1 << 16
	// copyWindow is how far apart in time the copies of one frame in two
	// per-VM inputs may be: the receiver's follows the sender's by the
	// link's latency and what is left of their clocks' offset once lined
	// up (clocks.go); the bound is generous.
	copyWindow = time.Second
)

// How an owner was decided.
const (
	ownerFlag   = "--port"
	ownerOnly   = "only input with it"
	ownerTiming = "timing"
	ownerCount  = "most copies"
	ownerFirst  = "guess: nothing tells the inputs apart"
	ownerLate   = "first seen (after the sampled start)"
	ownerSplit  = "one link's files, split in time: a port per source MAC"
)

// Owner says on which port a source MAC's frames were replayed and which
// input's copies were taken, and how that was decided.
type Owner struct {
	MAC   [6]byte `json:"-"`
	Port  string  `json:"port"`
	Input string  `json:"input"` // the channel (input port) whose copies were replayed
	How   string  `json:"how"`
}

// MarshalJSON writes the MAC as text.
func (o Owner) MarshalJSON() ([]byte, error) {
	type plain Owner
	return json.Marshal(struct {
		MAC string `json:"mac"`
		plain
	}{macString(o.MAC), plain(o)})
}

func (o Owner) String() string {
	return fmt.Sprintf("%s -> port %s (copies from %s; %s)", macString(o.MAC), o.Port, o.Input, o.How)
}

type owner struct {
	ch  int
	how string
}

// sample is one sampled frame of a per-VM channel.
type sample struct {
	mac [6]byte
	h   uint64
	t   time.Time
}

// sampler collects the prepass samples.
type sampler struct {
	byChan  map[int][]sample
	records map[int]int
	pairs   map[int]int
	last    map[int]map[uint64]time.Time // unpaired copies, for echo detection
	macs    [][6]byte                    // first-appearance order
	seen    map[[6]byte]bool
}

func newSampler() *sampler {
	return &sampler{
		byChan:  map[int][]sample{},
		records: map[int]int{},
		pairs:   map[int]int{},
		last:    map[int]map[uint64]time.Time{},
		seen:    map[[6]byte]bool{},
	}
}

func (s *sampler) add(ch int, data []byte, t time.Time) {
	if len(data) < 14 {
		return
	}
	s.records[ch]++
	h := hash64(data)
	last := s.last[ch]
	if last == nil {
		last = map[uint64]time.Time{}
		s.last[ch] = last
	}
	if t0, ok := last[h]; ok && !t.IsZero() && t.Sub(t0) <= echoWindow && t.Sub(t0) >= 0 { // an echo is told by its time
		delete(last, h)
		s.pairs[ch]++
		return
	}
	last[h] = t
	var mac [6]byte
	copy(mac[:], data[6:12])
	if !s.seen[mac] {
		s.seen[mac] = true
		s.macs = append(s.macs, mac)
	}
	s.byChan[ch] = append(s.byChan[ch], sample{mac: mac, h: h, t: t})
}

// echoing reports whether channel ch looks like a multicast member's
// capture: a good share of its frames come twice in quick succession.
func (s *sampler) echoing(ch int) bool {
	p := s.pairs[ch]
	return p >= 2 && p*10 >= s.records[ch]
}

// infer gives every sampled MAC an owner among chans (sorted channel IDs).
func (s *sampler) infer(chans []int) map[[6]byte]owner {
	out := make(map[[6]byte]owner, len(s.macs))
	// copies[mac][ch]
	copies := map[[6]byte]map[int]int{}
	for _, ch := range chans {
		for _, x := range s.byChan[ch] {
			m := copies[x.mac]
			if m == nil {
				m = map[int]int{}
				copies[x.mac] = m
			}
			m[ch]++
		}
	}
	votes := map[[6]byte]map[int]int{}
	for i, x := range chans {
		for _, y := range chans[i+1:] {
			s.vote(x, y, votes)
		}
	}
	var undecided [][6]byte
	for _, mac := range s.macs {
		in := copies[mac]
		if len(in) == 0 {
			continue
		}
		if len(in) == 1 {
			for ch := range in {
				out[mac] = owner{ch: ch, how: ownerOnly}
			}
			continue
		}
		if ch, ok := best(votes[mac], chans); ok {
			out[mac] = owner{ch: ch, how: ownerTiming}
			continue
		}
		if ch, ok := best(in, chans); ok {
			out[mac] = owner{ch: ch, how: ownerCount}
			continue
		}
		undecided = append(undecided, mac)
	}
	// Nothing tells these apart (one-way traffic, or clocks that hide the
	// latency): give each to an input holding it that owns nothing yet, since
	// every per-VM input is a VM that sent something, else the first.
	for _, mac := range undecided {
		in := copies[mac]
		pick := -1
		for _, ch := range chans {
			if in[ch] == 0 {
				continue
			}
			if pick < 0 {
				pick = ch
			}
			if !owns(out, ch) {
				pick = ch
				break
			}
		}
		out[mac] = owner{ch: pick, how: ownerFirst}
	}
	return out
}

func owns(m map[[6]byte]owner, ch int) bool {
	for _, o := range m {
		if o.ch == ch {
			return true
		}
	}
	return false
}

// best returns the channel with the strictly highest score.
func best(score map[int]int, chans []int) (int, bool) {
	top, n, ch := -1, 0, 0
	for _, c := range chans {
		switch v := score[c]; {
		case v > top:
			top, n, ch = v, 1, c
		case v == top:
			n++
		}
	}
	return ch, n == 1 && top > 0
}

// vote matches the copies of frames in channels x and y and votes for the
// owner of each MAC seen in both (see the comment at the top of the file).
func (s *sampler) vote(x, y int, votes map[[6]byte]map[int]int) {
	idx := map[uint64][]time.Time{}
	for _, v := range s.byChan[y] {
		idx[v.h] = append(idx[v.h], v.t)
	}
	used := map[uint64]int{}
	diffs := map[[6]byte][]time.Duration{}
	for _, v := range s.byChan[x] {
		ts := idx[v.h]
		k := used[v.h]
		if k >= len(ts) {
			continue
		}
		used[v.h] = k + 1
		diffs[v.mac] = append(diffs[v.mac], ts[k].Sub(v.t))
	}
	type med struct {
		mac [6]byte
		d   time.Duration
	}
	var meds []med
	for _, mac := range s.macs { // first-appearance order: deterministic
		if d := diffs[mac]; len(d) > 0 {
			slices.Sort(d)
			meds = append(meds, med{mac, d[len(d)/2]})
		}
	}
	if len(meds) < 2 {
		return
	}
	slices.SortStableFunc(meds, func(a, b med) int { return cmp.Compare(a.d, b.d) })
	// The largest gap splits X's MACs from Y's. Where two gaps are as
	// large, a MAC between them is on neither side: it gets no vote here
	// (the first gap would give it to Y, and to X with the inputs given
	// the other way round), and falls through to the copies' count, or a
	// guess that says so.
	gap, lo, hi := time.Duration(0), -1, -1
	for i := 0; i+1 < len(meds); i++ {
		switch g := meds[i+1].d - meds[i].d; {
		case g > gap:
			gap, lo, hi = g, i, i
		case g == gap && lo >= 0:
			hi = i
		}
	}
	if lo < 0 {
		return
	}
	for i, m := range meds {
		var ch int
		switch {
		case i <= lo:
			ch = y // seen earlier in Y: Y sent it
		case i > hi:
			ch = x
		default:
			continue
		}
		if votes[m.mac] == nil {
			votes[m.mac] = map[int]int{}
		}
		votes[m.mac][ch]++
	}
}

// frameWindow holds a channel's recent frames, each for window after its
// time (and no more than maxEchoPending of them), for later frames to be
// matched with: the same bytes again. Frames are compared byte for byte,
// so the hash only speeds up the search. It recognises the multicast
// loopback echoes of a member's own frames in its capture (isEcho, within
// echoWindow), and the copies of one frame in two per-VM inputs (within
// copyWindow: foreignPort).
type frameWindow struct {
	window time.Duration
	q      []echoEntry
	head   int
	count  map[uint64]int // unmatched frames held, by hash
}

type echoEntry struct {
	h      uint64
	t      time.Time
	data   []byte
	paired bool
}

func newFrameWindow(window time.Duration) *frameWindow {
	return &frameWindow{window: window, count: map[uint64]int{}}
}

// isEcho reports whether data, one of the channel's own frames at t, echoes
// an earlier one still waiting for its echo; if not, it waits in turn.
func (e *frameWindow) isEcho(t time.Time, data []byte) bool {
	e.expire(t)
	if e.match(t, data, matchOne) {
		return true
	}
	e.add(t, data)
	return false
}

// How match marks the frames it finds.
const (
	matchPeek = iota // none: a frame held may match any number of later ones
	matchOne         // the first: each frame held matches one later frame
	matchAll         // every one
)

// expire lets go of the frames held more than window before t (and the
// oldest past the bound), and returns how many of them nothing matched.
func (e *frameWindow) expire(t time.Time) (unmatched int) {
	for e.head < len(e.q) && (t.Sub(e.q[e.head].t) > e.window || len(e.q)-e.head >= maxEchoPending) {
		x := &e.q[e.head]
		if !x.paired {
			e.unpend(x.h)
			unmatched++
		}
		*x = echoEntry{}
		e.head++
	}
	if e.head > 1024 && e.head*2 > len(e.q) {
		n := copy(e.q, e.q[e.head:])
		clear(e.q[n:])
		e.q, e.head = e.q[:n], 0
	}
	return unmatched
}

// match reports whether a frame held, not matched yet and not stamped
// after t, has data's bytes, and marks it (how: matchPeek, matchOne or
// matchAll) matched. Call expire(t) first, so that what it finds is
// within window.
func (e *frameWindow) match(t time.Time, data []byte, how int) bool {
	h := hash64(data)
	if e.count[h] == 0 {
		return false
	}
	found := false
	for i := e.head; i < len(e.q); i++ {
		x := &e.q[i]
		if !x.paired && x.h == h && bytes.Equal(x.data, data) && !t.Before(x.t) {
			found = true
			if how == matchPeek {
				return true
			}
			x.paired = true
			e.unpend(h)
			if how == matchOne {
				return true
			}
		}
	}
	return found
}

// add holds data, a frame at t.
func (e *frameWindow) add(t time.Time, data []byte) {
	h := hash64(data)
	e.q = append(e.q, echoEntry{h: h, t: t, data: bytes.Clone(data)})
	e.count[h]++
}

// unmatched counts the frames held that nothing matched.
func (e *frameWindow) unmatched() int {
	n := 0
	for _, c := range e.count {
		n += c
	}
	return n
}

func (e *frameWindow) unpend(h uint64) {
	if e.count[h]--; e.count[h] <= 0 {
		delete(e.count, h)
	}
}

// hash64 is a fast, fixed (so deterministic) 64-bit hash of a frame.
func hash64(b []byte) uint64 {
	const m = 0x9e3779b97f4a7c15
	h := uint64(len(b)) * m
	for len(b) >= 8 {
		hi, lo := bits.Mul64(binary.LittleEndian.Uint64(b)^h, m)
		h = hi ^ lo ^ h<<7
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	hi, lo := bits.Mul64(binary.LittleEndian.Uint64(tail[:])^h, m^0x5bd1e995)
	return hi ^ lo
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
