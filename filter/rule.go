package filter

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// counters are one rule's totals over all links. They are written on the hub
// loop and read by anyone (control API, Prometheus), hence atomics.
type counters struct {
	matched, dropped, delayed, duplicated, corrupted, queued, overflowed atomic.Uint64
}

type lossModel uint8

const (
	lossNone lossModel = iota
	lossRandom
	lossGE
)

// lossCfg is random loss with probability p, or netem's Gilbert–Elliott
// model ("loss gemodel p r 1-h 1-k"): p is good->bad, r bad->good, 1-h the
// loss probability in the bad state, 1-k in the good state.
type lossCfg struct {
	model        lossModel
	p            float64
	r, bad, good float64 // gemodel r, 1-h, 1-k
}

type delayCfg struct {
	fixed, jitter time.Duration
	normal        bool // jitter is the standard deviation of a normal; else half-width of a uniform
	reorder       bool // copies may overtake each other; else FIFO per (rule, link)
}

type reorderCfg struct {
	p   float64
	gap int64
}

type dupCfg struct {
	p      float64
	copies int
}

// skipLevel says which headers corruption leaves alone.
type skipLevel uint8

const (
	skipNone skipLevel = iota
	skipEthernet
	skipIP
	skipTransport
)

var skipNames = [...]string{"none", "ethernet", "ip", "transport"}

type corruptCfg struct {
	p    float64
	bits int
	skip skipLevel
}

// rateCfg is a token bucket of burst bytes filled at bps, with a queue of
// queue bytes for frames that find it empty; tau and queueNs are those sizes
// as time at the rate.
type rateCfg struct {
	bps          uint64
	burst, queue int64
	tau, queueNs time.Duration
}

func (c *rateCfg) cost(n int) time.Duration {
	return time.Duration((uint64(n)*8*1e9 + c.bps - 1) / c.bps)
}

// bound on copies of one frame on one link, whatever the duplicate rules say.
const maxCopies = 16

// maxCorruptBits bounds bits flipped per copy.
const maxCorruptBits = 64

type rule struct {
	name  string
	index int
	m     matcher
	win   window

	mtu     int // drop when the L3 size exceeds it; 0 = none
	drop    bool
	loss    lossCfg
	dup     *dupCfg
	corrupt *corruptCfg
	delay   *delayCfg
	reorder *reorderCfg
	rate    *rateCfg

	triggers []*trigger // fired by this rule's matches
	c        counters

	matchDesc   string
	actionDescs []string
}

// ruleLink is a rule's state on one link: its window count, its random
// stream and the memory of its impairments. It lives as long as the Policy,
// so a port that reconnects finds its streams where it left them.
type ruleLink struct {
	applies bool
	n       int64
	rng     *rand.Rand
	s1, s2  uint64 // stream seed, used on first draw
	geBad   bool
	lastDep time.Duration // FIFO: latest departure scheduled so far
	reorder int64         // netem's reorder counter
	tat     time.Duration // rate: theoretical arrival time of the bucket
}

func (rl *ruleLink) rand() *rand.Rand {
	if rl.rng == nil {
		rl.rng = rand.New(rand.NewPCG(rl.s1, rl.s2))
	}
	return rl.rng
}

// streamSeed derives a rule's stream on a link from the policy seed and the
// names alone (D1): a fixed hash, so the stream is the same on every run,
// platform and Go version, and adding a port or a rule changes no other.
func streamSeed(seed uint64, from, to, rule string) (uint64, uint64) {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte("l2hub/filter stream v1"))
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, s := range [...]string{from, to, rule} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	return binary.BigEndian.Uint64(sum[0:8]), binary.BigEndian.Uint64(sum[8:16])
}

// eval is one Decide call's working state, on the caller's stack.
type eval struct {
	now   time.Duration
	frame []byte
	d     *hub.Decision
	pk    packet
	multi bool // d.Copies holds the deliveries
}

func (e *eval) note(rule, action string, detail []byte) hub.Note {
	return hub.Note{Rule: rule, Action: action, Detail: string(detail)}
}

func (e *eval) dropFrame(n hub.Note) {
	e.d.Drop = true
	e.d.Copies = e.d.Copies[:0]
	e.d.Notes = append(e.d.Notes, n)
}

func (e *eval) copies() []hub.Copy {
	if !e.multi {
		e.d.Copies = append(e.d.Copies[:0], hub.Copy{})
		e.multi = true
	}
	return e.d.Copies
}

func addCopyNote(c *hub.Copy, n hub.Note) {
	// Clipped so that clones made by duplicate never share a backing array.
	c.Notes = slices.Clip(append(c.Notes, n))
}

func appendP(b []byte, key string, v float64) []byte {
	b = append(b, key...)
	b = append(b, '=')
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendDraw(b []byte, v float64) []byte {
	b = append(b, " draw="...)
	return strconv.AppendFloat(b, v, 'g', 4, 64)
}

// apply runs the rule's impairments on a frame it matched: MTU, drop, loss,
// duplicate, corrupt (netem's order), then rate, then reorder/delay. The
// rate limiter comes before the delay, as a bottleneck's serialisation comes
// before its propagation delay: it then sees each link's frames in arrival
// order, so its queue is causal. It reports whether the frame is now dropped
// on this link.
func (r *rule) apply(e *eval, rl *ruleLink) bool {
	var buf [128]byte
	if r.mtu > 0 {
		e.pk.ensure(e.frame)
		if n := e.pk.l3Len(e.frame); n > r.mtu {
			b := append(buf[:0], "len="...)
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, " mtu="...)
			b = strconv.AppendInt(b, int64(r.mtu), 10)
			r.c.dropped.Add(1)
			e.dropFrame(e.note(r.name, "mtu", b))
			return true
		}
	}
	if r.drop {
		r.c.dropped.Add(1)
		e.dropFrame(hub.Note{Rule: r.name, Action: "drop", Detail: "always"})
		return true
	}
	switch r.loss.model {
	case lossRandom:
		u := rl.rand().Float64()
		if u < r.loss.p {
			b := appendDraw(appendP(buf[:0], "p", r.loss.p), u)
			r.c.dropped.Add(1)
			e.dropFrame(e.note(r.name, "drop", b))
			return true
		}
	case lossGE:
		if lost, u, bad := r.geStep(rl); lost {
			b := appendP(buf[:0], "gemodel p", r.loss.p)
			b = appendP(append(b, ' '), "r", r.loss.r)
			b = appendP(append(b, ' '), "1-h", r.loss.bad)
			b = appendP(append(b, ' '), "1-k", r.loss.good)
			if bad {
				b = append(b, " state=bad"...)
			} else {
				b = append(b, " state=good"...)
			}
			b = appendDraw(b, u)
			r.c.dropped.Add(1)
			e.dropFrame(e.note(r.name, "drop", b))
			return true
		}
	}
	if r.dup != nil {
		r.duplicate(e, rl, buf[:0])
	}
	if r.corrupt != nil {
		r.corruptCopies(e, rl)
	}
	if r.rate != nil && r.rateCopies(e, rl) {
		return true
	}
	if r.delay != nil {
		r.delayCopies(e, rl)
	}
	return false
}

// geStep advances the Gilbert–Elliott chain exactly as netem does: the
// frame's fate uses the loss probability of the state it arrives in, after
// the transition draw for the next frame.
func (r *rule) geStep(rl *ruleLink) (lost bool, u float64, bad bool) {
	rng := rl.rand()
	bad = rl.geBad
	if !bad {
		if rng.Float64() < r.loss.p {
			rl.geBad = true
		}
		u = rng.Float64()
		return u < r.loss.good, u, bad
	}
	if rng.Float64() < r.loss.r {
		rl.geBad = false
	}
	u = rng.Float64()
	return u < r.loss.bad, u, bad
}

func (r *rule) duplicate(e *eval, rl *ruleLink, b []byte) {
	u := rl.rand().Float64()
	if u >= r.dup.p {
		return
	}
	cs := e.copies()
	n := len(cs)
	added := 0
	for k := 1; k <= r.dup.copies; k++ {
		for i := 0; i < n && len(cs) < maxCopies; i++ {
			c := cs[i]
			c.Notes = slices.Clip(c.Notes)
			var nb [32]byte
			addCopyNote(&c, hub.Note{Rule: r.name, Action: "duplicate", Detail: string(strconv.AppendInt(append(nb[:0], "copy "...), int64(k), 10))})
			cs = append(cs, c)
			added++
		}
	}
	e.d.Copies = cs
	b = appendDraw(appendP(b, "p", r.dup.p), u)
	b = append(b, " copies="...)
	b = strconv.AppendInt(b, int64(added), 10)
	r.c.duplicated.Add(uint64(added))
	e.d.Notes = append(e.d.Notes, e.note(r.name, "duplicate", b))
}

func (r *rule) corruptCopies(e *eval, rl *ruleLink) {
	cs := e.copies()
	for i := range cs {
		c := &cs[i]
		rng := rl.rand()
		u := rng.Float64()
		if u >= r.corrupt.p {
			continue
		}
		src := e.frame
		if c.Frame != nil {
			src = c.Frame
		}
		lo, hi := 0, len(src)
		if r.corrupt.skip != skipNone {
			e.pk.ensure(e.frame)
			switch r.corrupt.skip {
			case skipEthernet:
				lo = e.pk.l3
			case skipIP:
				lo = e.pk.l4
			case skipTransport:
				lo = e.pk.payload
			}
			hi = min(e.pk.end, len(src))
		}
		if lo >= hi {
			continue // nothing past the headers to corrupt
		}
		nbits := (hi - lo) * 8
		bits := min(r.corrupt.bits, nbits)
		out := slices.Clone(src)
		var chosen [maxCorruptBits]int
		b := appendDraw(appendP(nil, "p", r.corrupt.p), u)
		b = append(b, " bits="...)
		for k := 0; k < bits; k++ {
			pos := rng.IntN(nbits)
			for slices.Contains(chosen[:k], pos) {
				pos = (pos + 1) % nbits // distinct positions, still from the stream
			}
			chosen[k] = pos
			bit := lo*8 + pos
			out[bit/8] ^= 0x80 >> (bit % 8)
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(bit), 10)
		}
		c.Frame = out
		addCopyNote(c, e.note(r.name, "corrupt", b))
		r.c.corrupted.Add(1)
	}
}

func (r *rule) delayCopies(e *eval, rl *ruleLink) {
	cs := e.copies()
	dc := r.delay
	for i := range cs {
		c := &cs[i]
		rng := rl.rand()
		if ro := r.reorder; ro != nil {
			// netem: a frame skips the delay when the gap is used up and the
			// draw says so; the others count towards the next gap.
			if rl.reorder >= ro.gap-1 {
				if u := rng.Float64(); u < ro.p {
					rl.reorder = 0
					b := appendDraw(appendP(nil, "p", ro.p), u)
					b = append(b, " gap="...)
					b = strconv.AppendInt(b, ro.gap, 10)
					addCopyNote(c, e.note(r.name, "reorder", b))
					continue
				}
			}
			rl.reorder++
		}
		var j time.Duration
		if dc.jitter > 0 {
			if dc.normal {
				j = time.Duration(math.Round(rng.NormFloat64() * float64(dc.jitter)))
			} else {
				j = time.Duration(rng.Int64N(int64(2*dc.jitter)+1)) - dc.jitter
			}
		}
		d := max(dc.fixed+j, 0)
		var held time.Duration
		if !dc.reorder {
			if dep := e.now + c.Delay + d; dep < rl.lastDep {
				held = rl.lastDep - dep
				d += held
			}
			rl.lastDep = e.now + c.Delay + d
		}
		if d == 0 {
			continue
		}
		c.Delay += d
		b := []byte(dc.fixed.String())
		if dc.jitter > 0 {
			b = append(b, "±"...)
			b = append(b, dc.jitter.String()...)
			if dc.normal {
				b = append(b, " normal draw="...)
			} else {
				b = append(b, " uniform draw="...)
			}
			if j >= 0 {
				b = append(b, '+')
			}
			b = append(b, j.String()...)
		}
		if held > 0 {
			b = append(b, " fifo+"...)
			b = append(b, held.String()...)
		}
		addCopyNote(c, e.note(r.name, "delay", b))
		r.c.delayed.Add(1)
	}
}

// rateCopies passes each copy through the (rule, link) token bucket, in GCRA
// form: tat is when the bucket would be full again with nothing more sent,
// tau the burst as time. A copy waits until the bucket holds its size; one
// that would wait longer than the queue drains (queue bytes at the rate) is
// dropped as overflow and takes no tokens.
func (r *rule) rateCopies(e *eval, rl *ruleLink) bool {
	rc := r.rate
	cs := e.copies()
	kept := cs[:0]
	for _, c := range cs {
		n := len(e.frame)
		if c.Frame != nil {
			n = len(c.Frame)
		}
		t := e.now + c.Delay
		next := max(rl.tat, t) + rc.cost(n)
		wait := next - rc.tau - t // until the bucket holds n bytes
		if wait > rc.queueNs {
			r.c.overflowed.Add(1)
			b := append([]byte("rate="), formatRate(rc.bps)...)
			b = append(b, " queue="...)
			b = strconv.AppendInt(b, rc.queue, 10)
			b = append(b, "B"...)
			e.d.Notes = append(e.d.Notes, e.note(r.name, "overflow", b))
			continue
		}
		rl.tat = next
		if wait > 0 {
			c.Delay += wait
			b := append([]byte("rate="), formatRate(rc.bps)...)
			b = append(b, " wait="...)
			b = append(b, wait.String()...)
			addCopyNote(&c, e.note(r.name, "queue", b))
			r.c.queued.Add(1)
		}
		kept = append(kept, c)
	}
	e.d.Copies = kept
	if len(kept) == 0 {
		e.d.Drop = true
		return true
	}
	return false
}

func formatRate(bps uint64) string {
	switch {
	case bps%1e9 == 0:
		return strconv.FormatUint(bps/1e9, 10) + "Gbit"
	case bps%1e6 == 0:
		return strconv.FormatUint(bps/1e6, 10) + "Mbit"
	case bps%1e3 == 0:
		return strconv.FormatUint(bps/1e3, 10) + "kbit"
	}
	return strconv.FormatUint(bps, 10) + "bit"
}
