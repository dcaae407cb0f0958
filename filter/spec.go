package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"l2hub/internal/yamlfile"
)

// Spec is a policy as its front ends write it down, before it is compiled:
// the policy file (Parse, Load) and the quick-test flags (Flags) both
// produce one, and Compile turns it into a Policy. Values are already
// parsed and names already checked against the ports; Compile applies the
// defaults (in this file, and nowhere else) and checks what takes more than
// one value: a reorder without a delay, a rule or partition name used
// twice, a trigger naming no rule, two schedules for one port.
type Spec struct {
	Name string // where the policy came from: a file name, "flags"
	Text string // its source, for the control API and capture headers
	Seed uint64
	// Groups are named sets of ports (port names, as expanded).
	Groups     map[string][]string
	Rules      []RuleSpec
	Partitions []PartitionSpec
	Schedules  []ScheduleSpec
}

// Pos says where a spec element was written, so that Compile's errors name
// it: a file, a line and column and the field's path (policy.yaml:7:5:
// rules[2]), or a flag and its value (--down "a@1s").
type Pos struct {
	File         string
	Line, Column int
	Path         string
}

func (p Pos) errorf(format string, args ...any) *FieldError {
	return &FieldError{File: p.File, Line: p.Line, Column: p.Column, Path: p.Path, Msg: fmt.Sprintf(format, args...), Kind: ErrInvalid}
}

// newErrors is a collector of a policy's problems, bounded at maxErrors.
func newErrors(file string) *yamlfile.Errors {
	return &yamlfile.Errors{File: file, Max: maxErrors, Kind: ErrInvalid}
}

// RuleSpec is one rule: what it matches, and what it does to what it
// matches, in the order Decide applies it (mtu, drop, loss, duplicate,
// corrupt, rate, reorder, delay). A nil impairment is not applied.
type RuleSpec struct {
	Name      string
	Match     MatchSpec
	MTU       int // drop above this L3 size, minMTU..maxMTU; 0 = none
	Drop      bool
	Loss      *LossSpec
	Duplicate *DuplicateSpec
	Corrupt   *CorruptSpec
	Rate      *RateSpec
	Reorder   *ReorderSpec // needs Delay (netem's rule)
	Delay     *DelaySpec
	// At is where the rule was written; NameAt where its name was. A set
	// NameAt with an empty Name means the name was given but unusable:
	// Compile refuses it there, unless the front end has already.
	At, NameAt Pos
	// delayRefused: a delay was written but refused where it was, so a
	// reorder is not blamed for lacking one.
	delayRefused bool
}

// MatchSpec is what a rule matches, every criterion ANDed; within a list
// any entry may match. The zero value matches every frame on every link.
type MatchSpec struct {
	From, To   []string    // ingress / egress ports; nil = any
	Links      [][2]string // ordered (from, to) pairs; nil = any
	EtherTypes []uint16
	SrcMAC     *[6]byte
	DstMAC     *[6]byte
	Broadcast  *bool // destination ff:ff:ff:ff:ff:ff
	Multicast  *bool // destination's group bit, broadcast excluded
	// VLAN: the frame carries an 802.1Q or 802.1ad tag; QinQ: two
	// (EtherTypes are the type after the tags).
	VLAN, QinQ *bool
	SrcIP      []netip.Prefix
	DstIP      []netip.Prefix
	Protocols  []uint8
	SrcPort    *PortRange
	DstPort    *PortRange
	// TCPFlags: the flags in Mask must have the values in Value.
	TCPFlags *TCPFlagsSpec
	Payload  []byte // prefix of the TCP or UDP payload
	// Length bounds the frame's length; Max < 0 is open.
	Length *Range
	// First, Matches and Every pick matches by their number on a link
	// (from 1): the first N, a range (Max < 0 open), every Nth.
	First   int64
	Matches *Range
	Every   int64
	// During is a window of policy time [Min, Max); Max < 0 is open.
	During *DurationRange
	// Description is the criteria as written, for Describe
	// ("from=a protocol=udp dst_port=37020").
	Description string
}

// PortRange is an inclusive range of TCP or UDP ports.
type PortRange struct{ Lo, Hi uint16 }

// TCPFlagsSpec is a TCP flag criterion (see MatchSpec.TCPFlags).
type TCPFlagsSpec struct{ Mask, Value uint8 }

// Range is an inclusive range of counts; Max < 0 is open.
type Range struct{ Min, Max int64 }

// DurationRange is a window of time [Min, Max); Max < 0 is open.
type DurationRange struct{ Min, Max time.Duration }

// LossSpec is random loss with Probability, or netem's Gilbert-Elliott
// model when GE is set.
type LossSpec struct {
	Probability float64
	GE          *GEModelSpec
}

// GEModelSpec is netem's "loss gemodel p r 1-h 1-k": P is the good->bad
// transition probability, R bad->good (default 1-P, as netem's), BadLoss
// the loss probability in the bad state (1-h, default 1) and GoodLoss in
// the good state (1-k, default 0).
type GEModelSpec struct {
	P                    float64
	R, BadLoss, GoodLoss *float64
}

// DelaySpec holds copies for Fixed plus a jitter drawn uniformly within
// ±Jitter (Normal: with Jitter as its standard deviation); copies keep their
// order on a link unless Reorder.
type DelaySpec struct {
	Fixed, Jitter   time.Duration
	Normal, Reorder bool
}

// ReorderSpec is netem's reorder: with Probability, every Gap-th frame
// (default 1) skips the delay.
type ReorderSpec struct {
	Probability float64
	Gap         int64
}

// DuplicateSpec sends Copies (default 1) more copies with Probability.
type DuplicateSpec struct {
	Probability float64
	Copies      int
}

// CorruptSpec flips Bits (default 1) random bits with Probability, leaving
// the headers Skip names alone: "" or "none", "ethernet", "ip" (only an
// IP packet's payload), "transport" (only a TCP or UDP payload); a frame
// with nothing of that kind is left alone.
type CorruptSpec struct {
	Probability float64
	Bits        int
	Skip        string
}

// RateSpec is a token bucket of Burst bytes (0: defaultBurst, one
// full-size frame; else at least minBurst) filled at BitsPerSecond, with a
// queue of Queue bytes (nil: defaultQueue, 64 KiB) for frames that find it
// empty.
type RateSpec struct {
	BitsPerSecond uint64
	Burst         int64
	Queue         *int64
}

// PartitionSpec separates groups of ports from each other: from Start to
// End, for Duration after Start, or when a trigger says.
type PartitionSpec struct {
	Name   string
	Groups [][]string // port names, each port in one group
	// Start and End are policy times; nil for none. Duration, when
	// positive, ends it that long after Start or StartTrigger.
	Start, End               *time.Duration
	Duration                 time.Duration
	StartTrigger, EndTrigger *TriggerSpec
	// At is where the partition was written; NameAt and GroupsAt where
	// its name and groups were (set with an empty value: the front end
	// has reported why).
	At, NameAt, GroupsAt Pos
}

// TriggerSpec starts or ends a partition once rule Rule has matched
// Matches times: on one link, or on all links when Link is nil. RuleAt
// and LinkAt are where the rule and link were written (LinkAt unset:
// errors about the link are shown at RuleAt).
type TriggerSpec struct {
	Rule           string
	Matches        int64
	Link           *[2]string
	RuleAt, LinkAt Pos
}

// ScheduleSpec takes a port's link down at At for DownFor (0: for good),
// every Every (0: once; else longer than a positive DownFor), Count times
// (0: forever). Pos is where it was written; NameAt and PortAt where its
// name and port were (set with an empty value: unusable, and refused
// there).
type ScheduleSpec struct {
	Name, Port          string
	At                  *time.Duration
	DownFor, Every      time.Duration
	Count               int64
	Pos, NameAt, PortAt Pos
}

// Compile checks spec whole and turns it into a Policy for the ports
// given (nil: port names are not checked, for the replay of a capture
// whose ports are not known up front). On error the result is an
// ErrorList, each error at the element it is about; nothing is returned
// half-built.
func Compile(spec *Spec, ports []string) (*Policy, error) {
	errs := newErrors(spec.Name)
	p := compile(spec, ports, errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// compile is Compile, adding to errs (a front end's, whose problems came
// first).
func compile(spec *Spec, ports []string, errs *yamlfile.Errors) *Policy {
	p := newPolicy(spec.Name, ports)
	p.seed, p.text = spec.Seed, spec.Text
	for name, g := range spec.Groups {
		p.groups[name] = g
	}
	for i := range spec.Rules {
		p.compileRule(&spec.Rules[i], errs)
	}
	for i := range spec.Partitions {
		p.compilePartition(&spec.Partitions[i], errs)
	}
	for i := range spec.Schedules {
		p.compileSchedule(&spec.Schedules[i], errs)
	}
	return p
}

// compileRule builds the rule rs describes, with its defaults, and adds it.
func (p *Policy) compileRule(rs *RuleSpec, errs *yamlfile.Errors) {
	r := p.buildRule(rs, errs)
	if r == nil {
		return
	}
	if err := p.addRule(r); err != nil {
		errs.Add(rs.NameAt.errorf("%v", err))
	}
}

// buildRule builds the rule rs describes, with its defaults, adding its
// problems to errs; nil when it has no usable name (errs says why).
func (p *Policy) buildRule(rs *RuleSpec, errs *yamlfile.Errors) *rule {
	if rs.Name == "" && rs.NameAt == (Pos{}) {
		errs.Add(rs.At.errorf("rule has no name"))
		return nil
	}
	r := newRule(rs.Name, 0)
	if err := p.checkPorts(rs.Match.From, rs.Match.To, rs.Match.Links); err != nil {
		errs.Add(rs.At.errorf("%v", err))
	}
	for _, pr := range rs.Match.problems() {
		errs.Add(rs.At.errorf("match.%s: %v", pr.field, pr.err))
	}
	if slices.Contains(rs.Match.Protocols, 0) { // the YAML front end refuses it where written
		errs.Add(rs.At.errorf("match.protocol: %v", errProtocolZero))
	}
	r.m, r.win = rs.Match.compile()
	r.matchDesc = rs.Match.Description
	r.mtu, r.drop = rs.MTU, rs.Drop
	rs.checkProbabilities(errs)
	rs.checkCounts(errs)
	rs.checkSizes(errs)
	if l := rs.Loss; l != nil {
		r.loss = lossCfg{model: lossRandom, p: l.Probability}
		if ge := l.GE; ge != nil {
			r.loss = lossCfg{model: lossGE, p: ge.P, r: 1 - ge.P, bad: 1, good: 0} // netem's defaults
			if ge.R != nil {
				r.loss.r = *ge.R
			}
			if ge.BadLoss != nil {
				r.loss.bad = *ge.BadLoss
			}
			if ge.GoodLoss != nil {
				r.loss.good = *ge.GoodLoss
			}
		}
	}
	if d := rs.Delay; d != nil {
		r.delay = &delayCfg{fixed: d.Fixed, jitter: d.Jitter, normal: d.Normal, reorder: d.Reorder}
	}
	if ro := rs.Reorder; ro != nil {
		r.reorder = &reorderCfg{p: ro.Probability, gap: max(ro.Gap, 1)}
	}
	if d := rs.Duplicate; d != nil {
		r.dup = &dupCfg{p: d.Probability, copies: max(d.Copies, 1)}
	}
	if c := rs.Corrupt; c != nil {
		skip := skipNone
		if i := indexOf(skipNames[:], c.Skip); i > 0 {
			skip = skipLevel(i)
		} else if c.Skip != "" && i < 0 {
			errs.Add(rs.At.errorf("corrupt: skip %s is not one of %s", quote(c.Skip), strings.Join(skipNames[:], ", ")))
		}
		r.corrupt = &corruptCfg{p: c.Probability, bits: max(c.Bits, 1), skip: skip}
	}
	if rc := rs.Rate; rc != nil {
		burst, queue := rc.Burst, int64(defaultQueue)
		if burst <= 0 {
			burst = defaultBurst
		}
		if rc.Queue != nil {
			queue = *rc.Queue
		}
		if bps := rc.BitsPerSecond; bps < minRate || bps > maxRate {
			// The front ends refuse it as they parse; a Spec built in Go
			// is refused here, before a zero rate divides by zero.
			errs.Add(rs.At.errorf("rate: %d bit/s is outside [%d,%d]", bps, uint64(minRate), uint64(maxRate)))
		} else {
			r.setRate(bps, burst, queue)
		}
	}
	if err := r.finish(); err != nil && !(rs.delayRefused && rs.Delay == nil) {
		errs.Add(rs.At.errorf("%v", err))
	}
	if rs.Name == "" {
		// Given but unusable: the front end said why where it was
		// written, unless this spec was built in Go.
		if !errorAt(errs, rs.NameAt) {
			errs.Add(rs.NameAt.errorf("%v", ruleNameError(rs.Name)))
		}
		return nil
	}
	return r
}

// errorAt reports whether errs holds a problem at pos.
func errorAt(errs *yamlfile.Errors, pos Pos) bool {
	return slices.ContainsFunc(errs.List, func(e *FieldError) bool {
		return e.File == pos.File && e.Line == pos.Line && e.Column == pos.Column && e.Path == pos.Path
	})
}

// checkProbabilities adds an error for each probability of rs outside
// 0..1 (or NaN): the YAML and flag front ends refuse them as they parse,
// and a Spec built in Go gets the same check here.
func (rs *RuleSpec) checkProbabilities(errs *yamlfile.Errors) {
	check := func(what string, p float64) {
		if !(p >= 0 && p <= 1) {
			errs.Add(rs.At.errorf("%s: probability %v is outside 0..1", what, p))
		}
	}
	if l := rs.Loss; l != nil {
		check("loss", l.Probability)
		if ge := l.GE; ge != nil {
			check("loss: gemodel p", ge.P)
			for _, o := range []struct {
				what string
				v    *float64
			}{{"r", ge.R}, {"1-h", ge.BadLoss}, {"1-k", ge.GoodLoss}} {
				if o.v != nil {
					check("loss: gemodel "+o.what, *o.v)
				}
			}
		}
	}
	if ro := rs.Reorder; ro != nil {
		check("reorder", ro.Probability)
	}
	if d := rs.Duplicate; d != nil {
		check("duplicate", d.Probability)
	}
	if c := rs.Corrupt; c != nil {
		check("corrupt", c.Probability)
	}
}

// checkSizes adds an error for each size of rs outside its range (mtu,
// burst, queue, the frame length it matches; an unset mtu or burst is 0):
// the front ends refuse them as they parse, and a Spec built in Go gets
// the same check here.
func (rs *RuleSpec) checkSizes(errs *yamlfile.Errors) {
	check := func(what string, n, lo, hi int64) {
		if err := checkSize(n, lo, hi); err != nil {
			errs.Add(rs.At.errorf("%s: %v", what, err))
		}
	}
	if rs.MTU != 0 {
		check("mtu", int64(rs.MTU), minMTU, maxMTU)
	}
	if l := rs.Match.Length; l != nil {
		if err := checkLength(l.Min, l.Max); err != nil {
			errs.Add(rs.At.errorf("match: length %v", err))
		}
	}
	if rc := rs.Rate; rc != nil {
		if rc.Burst != 0 {
			check("rate: burst", rc.Burst, minBurst, maxRateBytes)
		}
		if rc.Queue != nil {
			check("rate: queue", *rc.Queue, 0, maxRateBytes)
		}
	}
}

// checkCounts adds an error for each count of rs outside its range
// (duplicate copies, corrupt bits, reorder gap; 0 is the default 1): the
// front ends refuse them as they parse, and a Spec built in Go gets the
// same check here. Past maxCorruptBits a corrupted copy would index past
// the bits it draws.
func (rs *RuleSpec) checkCounts(errs *yamlfile.Errors) {
	check := func(what string, n, hi int64) {
		if n < 0 || n > hi {
			errs.Add(rs.At.errorf("%s %d is outside 1..%d", what, n, hi))
		}
	}
	if d := rs.Duplicate; d != nil {
		check("duplicate: copies", int64(d.Copies), maxCopies-1)
	}
	if c := rs.Corrupt; c != nil {
		check("corrupt: bits", int64(c.Bits), maxCorruptBits)
	}
	if ro := rs.Reorder; ro != nil {
		check("reorder: gap", int64(ro.Gap), maxGap)
	}
}

// checkPorts checks that every name is one of the policy's ports, for a
// spec built in code (the front ends check names where they are written).
func (p *Policy) checkPorts(from, to []string, links [][2]string) error {
	if p.ports == nil {
		return nil
	}
	check := func(n string) error {
		if !p.ports[n] {
			return fmt.Errorf("port %s does not exist (ports: %s)", quote(n), strings.Join(sortedKeys(p.ports), ", "))
		}
		return nil
	}
	for _, n := range append(append([]string(nil), from...), to...) {
		if err := check(n); err != nil {
			return err
		}
	}
	for _, l := range links {
		for _, n := range l {
			if err := check(n); err != nil {
				return err
			}
		}
	}
	return nil
}
