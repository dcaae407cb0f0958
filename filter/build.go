package filter

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/hub"
)

// Bounds on a policy's size: far above any hand-written file, low enough
// that a hostile one costs little.
const (
	maxPolicyBytes = 1 << 20
	maxRules       = 1024
	maxPartitions  = 256
	maxSchedules   = 256
	maxListLen     = 256
	maxPayloadLen  = 256
	maxGap         = 1 << 20
	maxRateBytes   = 64 << 20
)

// Defaults for a rate limiter: one full-size frame of burst, and a queue of
// 64 KiB (about 44 such frames), like a small switch port buffer.
const (
	defaultBurst = 1514
	defaultQueue = 64 << 10
)

// Ranges of a rule's sizes, in bytes. The front ends check them where a
// value is written, to name its line or flag; Compile checks them again
// for a Spec built in Go.
const (
	// minBurst is Ethernet's minimum frame: a smaller bucket never holds a
	// frame's worth of tokens.
	minBurst = 64
	// minMTU is the IPv4 MTU every host must accept (RFC 791); maxMTU the
	// largest an IP length field can say.
	minMTU = 68
	maxMTU = 65535
)

// checkLength refuses a frame length range [lo, hi] (hi < 0: open) that
// no frame is in: every frame the policy sees holds at least an Ethernet
// header (the hub drops a runt before), and none is longer than the
// largest maximum a hub may be configured with (max_frame).
func checkLength(lo, hi int64) error {
	if lo > hub.MaxFrameLimit {
		return fmt.Errorf("starts at %d bytes, but no frame is longer than %d (the largest max_frame a hub takes); length counts a frame's bytes from its Ethernet header", lo, hub.MaxFrameLimit)
	}
	if hi >= 0 && hi < hub.EthHeaderLen {
		return fmt.Errorf("ends at %d bytes, but every frame holds at least its %d-byte Ethernet header; length counts a frame's bytes from its Ethernet header", hi, hub.EthHeaderLen)
	}
	return nil
}

// checkSize says whether n bytes is within [lo, hi], in the words the
// front ends and Compile share.
func checkSize(n, lo, hi int64) error {
	if n < lo || n > hi {
		return fmt.Errorf("%d bytes is outside [%d,%d]", n, lo, hi)
	}
	return nil
}

func newRule(name string, index int) *rule {
	r := &rule{name: name, copyKey: nameKey(name), index: index}
	r.m.maxLen = -1
	r.m.to0 = -1
	r.win.hi = -1
	return r
}

func (r *rule) setRate(bps uint64, burst, queue int64) {
	rc := &rateCfg{bps: bps, burst: burst, queue: queue, rateText: formatRate(bps)}
	rc.tau, rc.tauRem = rc.cost(int(burst), 0)
	rc.queueNs, rc.queueRem = rc.cost(int(queue), 0)
	r.rate = rc
}

// finish checks combinations and writes the rule's descriptions.
func (r *rule) finish() error {
	if r.reorder != nil && (r.delay == nil || r.delay.fixed == 0 && r.delay.jitter == 0) {
		return errors.New("reorder needs a delay in the same rule, above 0 (netem's rule: frames are reordered by skipping the delay)")
	}
	var a []string
	if r.mtu > 0 {
		a = append(a, "mtu "+strconv.Itoa(r.mtu))
	}
	if r.drop {
		a = append(a, "drop")
	}
	switch r.loss.model {
	case lossRandom:
		a = append(a, "loss "+formatPct(r.loss.p))
	case lossGE:
		a = append(a, fmt.Sprintf("loss gemodel p=%s r=%s 1-h=%s 1-k=%s",
			formatPct(r.loss.p), formatPct(r.loss.r), formatPct(r.loss.bad), formatPct(r.loss.good)))
	}
	if d := r.dup; d != nil {
		a = append(a, fmt.Sprintf("duplicate %s copies %d", formatPct(d.p), d.copies))
	}
	if c := r.corrupt; c != nil {
		a = append(a, fmt.Sprintf("corrupt %s bits %d skip %s", formatPct(c.p), c.bits, skipNames[c.skip]))
	}
	if rc := r.rate; rc != nil {
		a = append(a, fmt.Sprintf("rate %s burst %dB queue %dB", formatRate(rc.bps), rc.burst, rc.queue))
	}
	if ro := r.reorder; ro != nil {
		a = append(a, fmt.Sprintf("reorder %s gap %d", formatPct(ro.p), ro.gap))
	}
	if d := r.delay; d != nil {
		s := "delay " + d.fixed.String()
		if d.jitter > 0 {
			s += "±" + d.jitter.String()
			if d.normal {
				s += " normal"
			} else {
				s += " uniform"
			}
		}
		if d.reorder {
			s += " reorder"
		} else {
			s += " fifo"
		}
		a = append(a, s)
	}
	r.actionDescs = a
	return nil
}

// ruleNameError says what is wrong with a rule's name; nil when nothing.
func ruleNameError(name string) error {
	if validRuleName(name) {
		return nil
	}
	return fmt.Errorf("rule name %s must be 1-64 printable characters without spaces or quotes, and not \".\" or \"..\"", quote(name))
}

// addRule appends a finished rule, checking its name.
func (p *Policy) addRule(r *rule) error {
	if err := ruleNameError(r.name); err != nil {
		return err
	}
	if _, dup := p.byName[r.name]; dup {
		return fmt.Errorf("rule name %s is used twice", quote(r.name))
	}
	if len(p.rules) >= maxRules {
		return fmt.Errorf("more than %d rules", maxRules)
	}
	r.index = len(p.rules)
	p.rules = append(p.rules, r)
	p.byName[r.name] = r
	return nil
}

// linkSpec is a parsed "a->b" or "a<->b" (either side a port or a group).
type linkSpec struct {
	from, to []string
	both     bool
}

func (ls linkSpec) pairs() [][2]string {
	var out [][2]string
	for _, f := range ls.from {
		for _, t := range ls.to {
			out = append(out, [2]string{f, t})
			if ls.both {
				out = append(out, [2]string{t, f})
			}
		}
	}
	return out
}

func (p *scope) parseLink(s string) (linkSpec, error) {
	s = strings.TrimSpace(s)
	var ls linkSpec
	a, b, ok := strings.Cut(s, "<->")
	if ok {
		ls.both = true
	} else if a, b, ok = strings.Cut(s, "->"); !ok {
		return ls, fmt.Errorf("%s is not a link (write a->b, or a<->b for both directions)", quote(s))
	}
	var err error
	if ls.from, err = p.expand(strings.TrimSpace(a)); err != nil {
		return linkSpec{}, err
	}
	if ls.to, err = p.expand(strings.TrimSpace(b)); err != nil {
		return linkSpec{}, err
	}
	if pairs := ls.pairs(); len(pairs) > 0 && !slices.ContainsFunc(pairs, func(l [2]string) bool { return l[0] != l[1] }) {
		return linkSpec{}, fmt.Errorf("%s goes from port %s to itself, which no frame does (the hub never sends a frame back out of the port it came in on)", quote(s), ls.from[0])
	}
	return ls, nil
}

// addLinks restricts the matcher to the given link pairs (ORed with any
// added before).
func (m *matcher) addLinks(pairs [][2]string) {
	if m.links == nil {
		m.links = map[[2]string]bool{}
	}
	for _, pr := range pairs {
		m.links[pr] = true
	}
}

// scheduleDesc renders a toggle's static part for people.
func scheduleDesc(t *toggle) string {
	switch {
	case t.every > 0:
		s := fmt.Sprintf("down %s every %s from %s", t.length, t.every, t.start)
		if t.count > 0 {
			s += fmt.Sprintf(" %d times", t.count)
		}
		return s
	case t.hasStart && t.hasEnd:
		return t.start.String() + "-" + t.end.String()
	case t.hasStart:
		return "from " + t.start.String()
	case t.hasEnd:
		return "until " + t.end.String()
	}
	return ""
}

func triggerDesc(t *trigger) string {
	s := fmt.Sprintf("after rule %s matched %d times", t.rule, t.n)
	if t.hasLink {
		s += " on " + t.link[0] + "->" + t.link[1]
	}
	return s
}

// partitionSchedule joins the parts of a file partition's schedule.
func partitionSchedule(t *toggle, start, end *trigger, hold time.Duration) string {
	var parts []string
	if start != nil {
		parts = append(parts, "start "+triggerDesc(start))
		if hold > 0 {
			parts = append(parts, "for "+hold.String())
		}
	}
	if s := scheduleDesc(t); s != "" {
		parts = append(parts, s)
	}
	if end != nil {
		parts = append(parts, "end "+triggerDesc(end))
	}
	if len(parts) == 0 {
		return "control API"
	}
	return strings.Join(parts, ", ")
}

// addSchedule gives port a link-down schedule: down at at for downFor
// (0 = for good), repeated every every (0 = once) count times (0 = forever).
func (p *Policy) addSchedule(name, port string, at, downFor, every time.Duration, count int64) error {
	ps := p.port(port)
	if ps.schedule != "" {
		return fmt.Errorf("port %s already has schedule %s", quote(port), quote(ps.schedule))
	}
	for _, other := range p.portStates {
		if other.schedule == name {
			return fmt.Errorf("schedule name %s is used twice", quote(name))
		}
	}
	tg := &ps.tg
	tg.hasStart, tg.start = true, at
	if every > 0 {
		tg.every, tg.length, tg.count = every, downFor, count
	} else if downFor > 0 {
		tg.end, tg.hasEnd = at+downFor, true
	}
	ps.schedule = name
	ps.desc = name + ": " + scheduleDesc(tg)
	if every == 0 {
		ps.desc = name + ": down " + scheduleDesc(tg)
	}
	return nil
}
