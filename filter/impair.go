// impair.go runs a rule's impairments on a frame it matched: Decide's
// working state (eval, and the scratch space copies are built in), apply
// with its steps in netem's order (MTU, drop, loss, duplicate, corrupt),
// then the rate limiter and reorder/delay, each counting and noting what it
// did. The rule, its impairments' settings and its per-link state, streams
// included, are in rule.go; Decide, which calls apply for each rule that
// matches, is in policy.go.

package filter

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"l2hub/hub"
)

// Note layouts (see hub.NoteArgs). A corrupt note lists the bits it
// flipped: up to four as values, more as text made at once.
var (
	corruptLayouts = [...]string{
		"p=%v draw=%v bits=%d",
		"p=%v draw=%v bits=%d,%d",
		"p=%v draw=%v bits=%d,%d,%d",
		"p=%v draw=%v bits=%d,%d,%d,%d",
	}
	// delayLayouts by jitter (none, uniform, normal), whether the draw
	// was clamped to 0 (only with jitter) and whether FIFO order held the
	// copy back: index 4*jitter + 2*clamped + held.
	delayLayouts = [...]string{
		"%t", "%t fifo+%t", "", "",
		"%t±%t uniform draw=%+t", "%t±%t uniform draw=%+t fifo+%t",
		"%t±%t uniform draw=%+t clamped", "%t±%t uniform draw=%+t clamped fifo+%t",
		"%t±%t normal draw=%+t", "%t±%t normal draw=%+t fifo+%t",
		"%t±%t normal draw=%+t clamped", "%t±%t normal draw=%+t clamped fifo+%t",
	}
)

// eval is one Decide call's working state, on the caller's stack.
type eval struct {
	now   time.Duration
	frame []byte
	d     *hub.Decision
	pk    frameHeaders
	multi bool // d.Copies holds the deliveries
	sc    *scratch
}

// scratch is the space one Decide builds copies' notes and corrupted bytes
// in; see Policy.scratch.
type scratch struct {
	notes []hub.Note
	bytes []byte
	pcg   rand.PCG   // copyRand's stream, reseeded for each copy and step
	rng   *rand.Rand // reads pcg
	// ids[i] is d.Copies[i]'s identity: 0 the frame itself, childID for
	// a copy duplicate made. A copy keeps it when another is dropped, and
	// its per-copy draws come from the stream of its identity (copyRand).
	// Each is written when its copy is made, so a Decide that makes none
	// leaves the array alone.
	ids [maxCopies]uint64
}

// init makes rng read pcg; the scratch space must not move after.
func (s *scratch) init() { s.rng = rand.New(&s.pcg) }

func (s *scratch) reset() {
	clear(s.notes) // let go of strings from the last frame
	s.notes = s.notes[:0]
	s.bytes = s.bytes[:0]
}

// note returns a note whose detail is args, formatted only when read.
func note(rule, action string, args hub.NoteArgs) hub.Note {
	return hub.Note{Rule: rule, Action: action, Args: args}
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
		e.sc.ids[0] = 0
	}
	return e.d.Copies
}

// addCopyNote gives copy c its notes so far plus n, written at the end of
// the scratch space: a note slice is never changed once a copy holds it,
// so the clones duplicate makes can share one.
func (e *eval) addCopyNote(c *hub.Copy, n hub.Note) {
	start := len(e.sc.notes)
	e.sc.notes = append(append(e.sc.notes, c.Notes...), n)
	c.Notes = e.sc.notes[start:len(e.sc.notes):len(e.sc.notes)]
}

// cloneFrame copies src into the scratch space, for a copy to corrupt.
func (e *eval) cloneFrame(src []byte) []byte {
	start := len(e.sc.bytes)
	e.sc.bytes = append(e.sc.bytes, src...)
	return e.sc.bytes[start:len(e.sc.bytes):len(e.sc.bytes)]
}

func appendP(b []byte, key string, v float64) []byte {
	b = append(b, key...)
	b = append(b, '=')
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendDraw(b []byte, v float64) []byte {
	b = append(b, " draw="...)
	return strconv.AppendFloat(b, shownDraw(v), 'g', -1, 64)
}

// shownDraw is a draw in [0,1) as notes show it: cut, not rounded, to 6
// significant digits, so that a draw below p never shows as p (0.0499996
// shows as 0.0499996, not 0.05) and the verdict can be checked from the
// note. Notes format it in its shortest form (%v), which is those digits.
func shownDraw(u float64) float64 {
	if !(u > 0) || math.IsInf(u, 0) {
		return u
	}
	scale := math.Pow(10, 5-math.Floor(math.Log10(u)))
	return math.Floor(u*scale) / scale
}

// apply runs the rule's impairments on a frame it matched: MTU, drop, loss,
// duplicate, corrupt (netem's order), then rate, then reorder/delay. The
// rate limiter comes before the delay, as a bottleneck's serialisation comes
// before its propagation delay: it then sees each link's frames in arrival
// order, so its queue is causal. It reports whether the frame is now dropped
// on this link.
func (r *rule) apply(e *eval, rl *ruleLink) bool {
	if r.mtu > 0 {
		e.pk.ensure(e.frame)
		if n := e.pk.L3Len(e.frame); n > r.mtu {
			r.c.dropped.Add(1)
			e.dropFrame(note(r.name, "mtu", hub.NoteArgs{Layout: "len=%d mtu=%d", N: [4]int64{int64(n), int64(r.mtu)}}))
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
			r.c.dropped.Add(1)
			e.dropFrame(note(r.name, "drop", hub.NoteArgs{Layout: "p=%v draw=%v", F: [5]float64{r.loss.p, shownDraw(u)}}))
			return true
		}
	case lossGE:
		if lost, u, bad := r.geStep(rl); lost {
			state := "good"
			if bad {
				state = "bad"
			}
			r.c.dropped.Add(1)
			e.dropFrame(note(r.name, "drop", hub.NoteArgs{
				Layout: "gemodel p=%v r=%v 1-h=%v 1-k=%v state=%s draw=%v",
				F:      [5]float64{r.loss.p, r.loss.r, r.loss.bad, r.loss.good, shownDraw(u)},
				S:      state,
			}))
			return true
		}
	}
	if r.dup != nil {
		r.duplicate(e, rl)
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

func (r *rule) duplicate(e *eval, rl *ruleLink) {
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
			e.addCopyNote(&c, note(r.name, "duplicate", hub.NoteArgs{Layout: "copy %d", N: [4]int64{int64(k)}}))
			e.sc.ids[len(cs)] = childID(e.sc.ids[i], r.copyKey, k)
			cs = append(cs, c)
			added++
		}
	}
	e.d.Copies = cs
	r.c.duplicated.Add(uint64(added))
	e.d.Notes = append(e.d.Notes, note(r.name, "duplicate", hub.NoteArgs{
		Layout: "p=%v draw=%v copies=%d", F: [5]float64{r.dup.p, shownDraw(u)}, N: [4]int64{int64(added)},
	}))
}

func (r *rule) corruptCopies(e *eval, rl *ruleLink) {
	cs := e.copies()
	for i := range cs {
		c := &cs[i]
		rng := e.copyRand(rl, e.sc.ids[i], stepCorrupt)
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
			lo, hi = e.pk.corruptSpan(r.corrupt.skip, len(src))
		}
		if lo >= hi {
			continue // nothing past the headers to corrupt
		}
		nbits := (hi - lo) * 8
		bits := min(r.corrupt.bits, nbits)
		out := e.cloneFrame(src)
		var chosen [maxCorruptBits]int
		args := hub.NoteArgs{F: [5]float64{r.corrupt.p, shownDraw(u)}}
		for k := 0; k < bits; k++ {
			pos := rng.IntN(nbits)
			for slices.Contains(chosen[:k], pos) {
				pos = (pos + 1) % nbits // distinct positions, still from the stream
			}
			chosen[k] = pos
			bit := lo*8 + pos
			out[bit/8] ^= 0x80 >> (bit % 8)
			if k < len(args.N) {
				args.N[k] = int64(bit)
			}
		}
		c.Frame = out
		n := note(r.name, "corrupt", args)
		if bits <= len(corruptLayouts) {
			n.Args.Layout = corruptLayouts[bits-1]
		} else { // many bits: the note is made now, and allocates
			b := appendDraw(appendP(nil, "p", r.corrupt.p), u)
			b = append(b, " bits="...)
			for k := range bits {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(lo*8+chosen[k]), 10)
			}
			n = hub.Note{Rule: r.name, Action: "corrupt", Detail: string(b)}
		}
		e.addCopyNote(c, n)
		r.c.corrupted.Add(1)
	}
}

func (r *rule) delayCopies(e *eval, rl *ruleLink) {
	cs := e.copies()
	dc := r.delay
	for i := range cs {
		c := &cs[i]
		rng := e.copyRand(rl, e.sc.ids[i], stepDelay)
		if ro := r.reorder; ro != nil {
			// netem: a frame skips the delay when the gap is used up and the
			// draw says so; the others count towards the next gap.
			if rl.reorder >= ro.gap-1 {
				if u := rng.Float64(); u < ro.p {
					rl.reorder = 0
					e.addCopyNote(c, note(r.name, "reorder", hub.NoteArgs{
						Layout: "p=%v draw=%v gap=%d", F: [5]float64{ro.p, shownDraw(u)}, N: [4]int64{ro.gap},
					}))
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
		clamped := dc.fixed+j < 0
		var held time.Duration
		if !dc.reorder {
			if dep := e.now + c.Delay + d; dep < rl.lastDep {
				held = rl.lastDep - dep
				d += held
			}
			rl.lastDep = e.now + c.Delay + d
		}
		if d == 0 && dc.jitter == 0 {
			continue // nothing drawn, nothing done
		}
		// A copy whose draw came to 0 or less is noted and counted too,
		// so that every copy the step drew for says what it drew.
		c.Delay += d
		args := hub.NoteArgs{N: [4]int64{int64(dc.fixed)}}
		layout, next := 0, 1 // the layout's index, and its next value's
		if dc.jitter > 0 {
			args.N[1], args.N[2] = int64(dc.jitter), int64(j)
			layout, next = 4, 3
			if dc.normal {
				layout = 8
			}
			if clamped {
				layout += 2
			}
		}
		if held > 0 {
			args.N[next] = int64(held)
			layout++
		}
		args.Layout = delayLayouts[layout]
		e.addCopyNote(c, note(r.name, "delay", args))
		r.c.delayed.Add(1)
	}
}

// rateCopies passes each copy through the (rule, link) token bucket, in GCRA
// form: tat is when the bucket would be full again with nothing more sent,
// tau the burst as time. A copy waits until the bucket holds its size; one
// that would wait longer than the queue drains (queue bytes at the rate) is
// dropped as overflow and takes no tokens. tat keeps the fraction of a ns
// each copy's cost leaves (in units of 1/bps ns), so that rounding never
// adds up: at 1Tbit a 64-byte frame costs 0.512ns, and rounding each up
// to 1ns would halve the rate. The wait is compared with the queue exactly;
// only then is it rounded, up, to whole ns (and the queue, in the note,
// down, so that the note's wait is always above it).
func (r *rule) rateCopies(e *eval, rl *ruleLink) bool {
	rc := r.rate
	cs := e.copies()
	kept := cs[:0]
	for i, c := range cs {
		n := len(e.frame)
		if c.Frame != nil {
			n = len(c.Frame)
		}
		t := e.now + c.Delay
		base, rem := rl.tat, rl.tatRem
		if t > base { // the bucket is full: tat restarts from t
			base, rem = t, 0
		}
		q, rem := rc.cost(n, rem)
		next := base + q
		wait := next - rc.tau - t // until the bucket holds n bytes, rounded up
		over := rc.overQueue(wait, rem)
		if rem > rc.tauRem {
			wait++
		}
		if over {
			r.c.overflowed.Add(1)
			args := hub.NoteArgs{Layout: "rate=%s wait=%t > queue %t", S: rc.rateText, N: [4]int64{int64(wait), int64(rc.queueNs)}}
			if len(cs) > 1 { // the note is the frame's: say which copy it drops
				args.Layout = "rate=%s wait=%t > queue %t copy %d of %d"
				args.N[2], args.N[3] = int64(i+1), int64(len(cs))
			}
			e.d.Notes = append(e.d.Notes, note(r.name, "overflow", args))
			continue
		}
		rl.tat, rl.tatRem = next, rem
		if wait > 0 {
			c.Delay += wait
			e.addCopyNote(&c, note(r.name, "queue", hub.NoteArgs{
				Layout: "rate=%s wait=%t", S: rc.rateText, N: [4]int64{int64(wait)},
			}))
			r.c.queued.Add(1)
		}
		e.sc.ids[len(kept)] = e.sc.ids[i] // len(kept) <= i
		kept = append(kept, c)
	}
	e.d.Copies = kept
	if len(kept) == 0 {
		e.d.Drop = true
		return true
	}
	return false
}
