package filter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"l2hub/internal/yamlfile"
	"l2hub/packet"
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

// A matchProblem is a combination of a rule's criteria that no frame
// meets, blamed on one of them (its key in the policy file).
type matchProblem struct {
	field string
	err   error
}

// problems lists the combinations of ms's criteria that no frame meets:
// each criterion alone is checked where it is written, these are what
// only the whole match shows. Each problem's field, set aside, ends it.
func (ms MatchSpec) problems() []matchProblem {
	var out []matchProblem
	for {
		pr, ok := ms.impossible()
		if !ok {
			return out
		}
		out = append(out, pr)
		ms.clear(pr.field)
	}
}

// impossible finds the first combination of ms's criteria that no frame
// meets. It blames only a field that is set, so clearing it ends the
// problem.
func (ms *MatchSpec) impossible() (matchProblem, bool) {
	// A list set but empty had what was in it refused where it was
	// written: the checks that need it are skipped.
	ports := !emptied(ms.From) && !emptied(ms.To) && !emptied(ms.Links)
	ips := !emptied(ms.SrcIP) && !emptied(ms.DstIP) && !emptied(ms.EtherTypes)
	in := func(set []string, n string) bool { return set == nil || slices.Contains(set, n) }
	other := func(l [2]string) bool { return l[0] != l[1] }
	switch {
	case ms.VLAN != nil && !*ms.VLAN && ms.QinQ != nil && *ms.QinQ:
		return matchProblem{"qinq", errors.New("true needs two VLAN tags, and vlan: false refuses every tagged frame (remove vlan: false)")}, true
	case !ports:
	case ms.Links != nil && !slices.ContainsFunc(ms.Links, other):
		return matchProblem{"link", errors.New("every link it names goes from a port to itself, which no frame does")}, true
	case ms.Links != nil && !slices.ContainsFunc(ms.Links, func(l [2]string) bool { return other(l) && in(ms.From, l[0]) && in(ms.To, l[1]) }):
		var sides []string
		if ms.From != nil {
			sides = append(sides, "from a port of from")
		}
		if ms.To != nil {
			sides = append(sides, "to a port of to")
		}
		return matchProblem{"link", fmt.Errorf("no link it names goes %s", strings.Join(sides, " and "))}, true
	case ms.Links == nil && ms.From != nil && ms.To != nil &&
		!slices.ContainsFunc(ms.From, func(f string) bool { return slices.ContainsFunc(ms.To, func(t string) bool { return f != t }) }):
		return matchProblem{"to", fmt.Errorf("from and to both name port %s alone, and no frame goes from a port to itself", ms.From[0])}, true
	}
	src, dst := ipVersions(ms.SrcIP), ipVersions(ms.DstIP)
	switch eth := etherVersions(ms.EtherTypes); {
	case !ips:
	case src&dst == 0:
		return matchProblem{"dst_ip", fmt.Errorf("holds only %s addresses and src_ip only %s ones: a packet's two addresses are of one IP version", dst, src)}, true
	case ms.SrcIP != nil && src&eth == 0:
		return matchProblem{"src_ip", fmt.Errorf("holds only %s addresses, and ethertype names no %s packet", src, src)}, true
	case ms.DstIP != nil && dst&eth == 0:
		return matchProblem{"dst_ip", fmt.Errorf("holds only %s addresses, and ethertype names no %s packet", dst, dst)}, true
	}
	if pr, ok := ms.impossibleTransport(); ok {
		return pr, true
	}
	if pr, ok := ms.impossibleDestination(); ok {
		return pr, true
	}
	return ms.impossibleWindow()
}

// impossibleTransport finds protocol, port and TCP flag criteria that no
// packet the other criteria allow can meet: ports are TCP's and UDP's,
// flags TCP's, and all of them need an IP packet.
func (ms *MatchSpec) impossibleTransport() (matchProblem, bool) {
	flags := ms.TCPFlags != nil && ms.TCPFlags.Mask != 0
	if ms.EtherTypes != nil && !emptied(ms.EtherTypes) && etherVersions(ms.EtherTypes) == 0 {
		for _, c := range []struct {
			field string
			set   bool
		}{{"protocol", ms.Protocols != nil}, {"src_port", ms.SrcPort != nil}, {"dst_port", ms.DstPort != nil}, {"tcp_flags", flags}} {
			if c.set {
				return matchProblem{c.field, errors.New("needs an IP packet, and ethertype names no IPv4 or IPv6 packet")}, true
			}
		}
	}
	if ms.Protocols == nil || emptied(ms.Protocols) {
		return matchProblem{}, false
	}
	tcp, udp := slices.Contains(ms.Protocols, packet.ProtoTCP), slices.Contains(ms.Protocols, packet.ProtoUDP)
	switch {
	case ms.SrcPort != nil && !tcp && !udp:
		return matchProblem{"src_port", errors.New("is a TCP or UDP port, and protocol names neither")}, true
	case ms.DstPort != nil && !tcp && !udp:
		return matchProblem{"dst_port", errors.New("is a TCP or UDP port, and protocol names neither")}, true
	case flags && !tcp:
		return matchProblem{"tcp_flags", errors.New("needs a TCP segment, and protocol names no TCP")}, true
	}
	return matchProblem{}, false
}

// impossibleDestination finds broadcast, multicast and dst_mac criteria
// that contradict each other: multicast excludes broadcast, and an exact
// dst_mac is broadcast, multicast or neither.
func (ms *MatchSpec) impossibleDestination() (matchProblem, bool) {
	b, m := ms.Broadcast, ms.Multicast
	if b != nil && *b && m != nil && *m {
		return matchProblem{"multicast", errors.New("true excludes the broadcast address, and broadcast: true asks for it (multicast: false or remove one)")}, true
	}
	if ms.DstMAC == nil {
		return matchProblem{}, false
	}
	bc := *ms.DstMAC == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mc := !bc && ms.DstMAC[0]&1 != 0
	is := func(yes bool) string {
		if yes {
			return "is"
		}
		return "is not"
	}
	switch {
	case b != nil && *b != bc:
		return matchProblem{"broadcast", fmt.Errorf("%t, and dst_mac %s %s the broadcast address", *b, net.HardwareAddr(ms.DstMAC[:]), is(bc))}, true
	case m != nil && *m != mc:
		return matchProblem{"multicast", fmt.Errorf("%t, and dst_mac %s %s a multicast address (group bit set, broadcast excluded)", *m, net.HardwareAddr(ms.DstMAC[:]), is(mc))}, true
	}
	return matchProblem{}, false
}

// impossibleWindow finds first, matches and every that leave no match
// number: n <= first, n in matches, n a multiple of every.
func (ms *MatchSpec) impossibleWindow() (matchProblem, bool) {
	lo, hi := int64(1), int64(-1) // hi < 0: open
	if r := ms.Matches; r != nil {
		if r.Max >= 0 && r.Max < r.Min {
			return matchProblem{}, false // refused where it is written
		}
		lo, hi = max(lo, r.Min), r.Max
	}
	if ms.First > 0 {
		if ms.First < lo {
			return matchProblem{"first", fmt.Errorf("%d ends the window before matches starts at %d: no match is in both", ms.First, lo)}, true
		}
		if hi < 0 || ms.First < hi {
			hi = ms.First
		}
	}
	if e := ms.Every; e > 1 && hi >= 0 {
		if k := (lo + e - 1) / e * e; k > hi {
			return matchProblem{"every", fmt.Errorf("%d: no multiple of %d is in the window of matches %d to %d", e, e, lo, hi)}, true
		}
	}
	return matchProblem{}, false
}

func emptied[T any](s []T) bool { return s != nil && len(s) == 0 }

// ipVersion is a set of IP versions, for the address criteria's checks.
type ipVersion uint8

const (
	ipv4 ipVersion = 1 << iota
	ipv6
	anyIP = ipv4 | ipv6
)

func (v ipVersion) String() string {
	switch v {
	case ipv4:
		return "IPv4"
	case ipv6:
		return "IPv6"
	case anyIP:
		return "IPv4 or IPv6"
	}
	return "no IP"
}

// ipVersions is the versions of the addresses prefixes match (nil: any).
func ipVersions(prefixes []netip.Prefix) ipVersion {
	if prefixes == nil {
		return anyIP
	}
	var v ipVersion
	for _, p := range prefixes {
		if p.Addr().Is4() {
			v |= ipv4
		} else {
			v |= ipv6
		}
	}
	return v
}

// etherVersions is the IP versions of the EtherTypes types (nil: any).
func etherVersions(types []uint16) ipVersion {
	if types == nil {
		return anyIP
	}
	var v ipVersion
	for _, t := range types {
		switch t {
		case packet.EtherTypeIPv4:
			v |= ipv4
		case packet.EtherTypeIPv6:
			v |= ipv6
		}
	}
	return v
}

// clear sets the criterion of the policy file's key field aside.
func (ms *MatchSpec) clear(field string) {
	switch field {
	case "link":
		ms.Links = nil
	case "to":
		ms.To = nil
	case "qinq":
		ms.QinQ = nil
	case "src_ip":
		ms.SrcIP = nil
	case "dst_ip":
		ms.DstIP = nil
	case "protocol":
		ms.Protocols = nil
	case "src_port":
		ms.SrcPort = nil
	case "dst_port":
		ms.DstPort = nil
	case "tcp_flags":
		ms.TCPFlags = nil
	case "broadcast":
		ms.Broadcast = nil
	case "multicast":
		ms.Multicast = nil
	case "first":
		ms.First = 0
	case "every":
		ms.Every = 0
	default:
		panic("filter: clear " + field)
	}
}

// compile builds the runtime matcher and window.
func (ms *MatchSpec) compile() (matcher, window) {
	m := matcher{maxLen: -1, to0: -1}
	w := window{hi: -1, first: ms.First, every: ms.Every}
	set := func(ports []string) map[string]bool {
		if ports == nil {
			return nil
		}
		s := make(map[string]bool, len(ports))
		for _, n := range ports {
			s[n] = true
		}
		return s
	}
	m.from, m.to = set(ms.From), set(ms.To)
	if ms.Links != nil {
		m.addLinks(ms.Links)
	}
	m.etherType, m.srcIP, m.dstIP, m.proto = ms.EtherTypes, ms.SrcIP, ms.DstIP, ms.Protocols
	m.srcMAC, m.dstMAC = ms.SrcMAC, ms.DstMAC
	if ms.Broadcast != nil {
		m.broadcast = triOf(*ms.Broadcast)
	}
	if ms.Multicast != nil {
		m.multicast = triOf(*ms.Multicast)
	}
	if ms.VLAN != nil {
		m.vlan = triOf(*ms.VLAN)
	}
	if ms.QinQ != nil {
		m.qinq = triOf(*ms.QinQ)
	}
	if r := ms.SrcPort; r != nil {
		m.srcPort = portRange{set: true, lo: r.Lo, hi: r.Hi}
	}
	if r := ms.DstPort; r != nil {
		m.dstPort = portRange{set: true, lo: r.Lo, hi: r.Hi}
	}
	if f := ms.TCPFlags; f != nil {
		m.tcpMask, m.tcpValue = f.Mask, f.Value
	}
	m.payload = ms.Payload
	if l := ms.Length; l != nil {
		m.minLen, m.maxLen = int(l.Min), int(l.Max)
	}
	if d := ms.During; d != nil {
		m.during, m.from0, m.to0 = true, d.Min, d.Max
	}
	if r := ms.Matches; r != nil {
		w.lo, w.hi = r.Min, r.Max
	}
	m.needParse = m.etherType != nil || m.vlan != triAny || m.qinq != triAny || m.srcIP != nil || m.dstIP != nil || m.proto != nil ||
		m.srcPort.set || m.dstPort.set || m.tcpMask != 0 || m.payload != nil
	return m, w
}

func triOf(b bool) tri {
	if b {
		return triYes
	}
	return triNo
}

// compilePartition checks ps's times and triggers and adds the partition.
func (p *Policy) compilePartition(ps *PartitionSpec, errs *yamlfile.Errors) {
	pt := &partition{name: ps.Name, groups: ps.Groups}
	if ps.Name == "" && ps.NameAt == (Pos{}) {
		errs.Add(ps.At.errorf("partition has no name"))
	}
	if ps.Groups == nil && ps.GroupsAt == (Pos{}) {
		errs.Add(ps.At.errorf("partition has no groups (write groups: a|b)"))
	}
	var startTrig, endTrig *trigger
	for _, ts := range []*TriggerSpec{ps.StartTrigger, ps.EndTrigger} {
		if ts == nil {
			continue
		}
		t, err := p.compileTrigger(ts, ts == ps.EndTrigger, ps.Groups, ps.End)
		if err != nil {
			errs.Add(err)
			continue
		}
		if ts == ps.StartTrigger {
			startTrig = t
		} else {
			endTrig = t
		}
	}
	if ps.Start != nil {
		pt.tg.start, pt.tg.hasStart = *ps.Start, true
	}
	if ps.End != nil {
		pt.tg.end, pt.tg.hasEnd = *ps.End, true
		pt.fixedEnd = ps.End
	}
	if d := ps.Duration; d > 0 {
		switch {
		case pt.tg.hasEnd || endTrig != nil:
			errs.Add(ps.At.errorf("give end or duration, not both"))
		case pt.tg.hasStart:
			pt.tg.end, pt.tg.hasEnd = pt.tg.start+d, true
		case startTrig != nil:
			pt.hold = d
		default:
			errs.Add(ps.At.errorf("duration needs a start"))
		}
	}
	if pt.tg.hasStart && pt.tg.hasEnd && pt.tg.end <= pt.tg.start {
		errs.Add(ps.At.errorf("ends at %s, not after its start at %s", pt.tg.end, pt.tg.start))
	}
	if pt.name == "" && ps.NameAt != (Pos{}) && !errorAt(errs, ps.NameAt) {
		errs.Add(ps.NameAt.errorf("%s is not a valid partition name", quote(pt.name)))
	}
	if pt.name == "" || pt.groups == nil {
		return
	}
	if err := p.checkGroups(ps.Groups); err != nil {
		errs.Add(ps.At.errorf("%v", err))
		return
	}
	if p.partition(pt.name) != nil {
		errs.Add(ps.NameAt.errorf("partition name %s is used twice", quote(pt.name)))
		return
	}
	if len(p.partitions) >= maxPartitions {
		errs.Add(ps.At.errorf("more than %d partitions", maxPartitions))
		return
	}
	pt.side = sides(pt.groups)
	for _, t := range []*trigger{startTrig, endTrig} {
		if t != nil {
			t.part = pt
			p.byName[t.rule].triggers = append(p.byName[t.rule].triggers, t)
		}
	}
	if startTrig != nil {
		startTrig.start = true
	}
	pt.schedule = partitionSchedule(&pt.tg, startTrig, endTrig, pt.hold)
	p.partitions = append(p.partitions, pt)
}

// compileTrigger checks that a trigger names a rule and can fire
// (triggerProblem).
func (p *Policy) compileTrigger(ts *TriggerSpec, end bool, groups [][]string, fixedEnd *time.Duration) (*trigger, *FieldError) {
	r := p.byName[ts.Rule]
	if r == nil {
		return nil, ts.RuleAt.errorf("no rule named %s", quote(ts.Rule))
	}
	if ts.Matches < 1 {
		return nil, ts.RuleAt.errorf("trigger needs matches (a count from 1)")
	}
	if problem, onLink := p.triggerProblem(r, ts.Link, end, groups, fixedEnd); problem != "" {
		at := ts.RuleAt
		if onLink && ts.LinkAt != (Pos{}) {
			at = ts.LinkAt
		}
		return nil, at.errorf("%s", problem)
	}
	t := &trigger{rule: ts.Rule, n: ts.Matches}
	if ts.Link != nil {
		t.hasLink, t.link = true, *ts.Link
	}
	return t, nil
}

// triggerProblem says why a trigger counting rule r's matches (on link,
// nil for any) could never fire, or "" when it can: r never matches on
// link; or the trigger ends (end) its partition (groups, nil if unusable),
// so counts only while the partition is in force, and the partition cuts
// link or every link r matches on, since the frames a partition drops
// reach no rule; or the trigger starts its partition, whose window is
// over from fixedEnd on (nil: it has no fixed end), and r's during
// window starts no earlier. onLink says the problem is the trigger's
// link. Load (compileTrigger) and a rule's update (UpdateRule) both ask.
func (p *Policy) triggerProblem(r *rule, link *[2]string, end bool, groups [][]string, fixedEnd *time.Duration) (problem string, onLink bool) {
	if !end && fixedEnd != nil && r.m.during && r.m.from0 >= *fixedEnd {
		return fmt.Sprintf("rule %s matches only from %s on (during), and the partition's window is over at %s, after which a start trigger starts nothing", quote(r.name), r.m.from0, *fixedEnd), false
	}
	side := sides(groups)
	cut := func(l [2]string) bool { a, b := side[l[0]], side[l[1]]; return a != 0 && b != 0 && a != b }
	if l := link; l != nil {
		switch {
		case !r.m.linkOK(l[0], l[1]):
			return fmt.Sprintf("rule %s never matches a frame on %s->%s, so the trigger would never fire", quote(r.name), l[0], l[1]), true
		case end && cut(*l):
			return fmt.Sprintf("the partition cuts %s->%s, and an end trigger counts only while the partition is in force, when no frame on %s->%s reaches a rule: count a link it leaves whole", l[0], l[1], l[0], l[1]), true
		}
	} else if links, known := p.ruleLinks(r); end && groups != nil && known && !slices.ContainsFunc(links, func(l [2]string) bool { return !cut(l) }) {
		return fmt.Sprintf("the partition cuts every link rule %s matches on, and an end trigger counts only while the partition is in force, when no frame on them reaches a rule: count a rule on a link it leaves whole", quote(r.name)), false
	}
	return "", false
}

// ruleLinks lists the links r can match on, when they are known: the
// links its match names, or every pair of its from and to ports, or of
// the policy's ports.
func (p *Policy) ruleLinks(r *rule) ([][2]string, bool) {
	if r.m.links != nil {
		var out [][2]string
		for l := range r.m.links {
			if l[0] != l[1] && r.m.linkOK(l[0], l[1]) {
				out = append(out, l)
			}
		}
		return out, true
	}
	from, to := sortedKeys(r.m.from), sortedKeys(r.m.to)
	if r.m.from == nil {
		from = sortedKeys(p.ports)
	}
	if r.m.to == nil {
		to = sortedKeys(p.ports)
	}
	if (r.m.from == nil || r.m.to == nil) && p.ports == nil {
		return nil, false
	}
	var out [][2]string
	for _, f := range from {
		for _, t := range to {
			if f != t {
				out = append(out, [2]string{f, t})
			}
		}
	}
	return out, true
}

// compileSchedule checks ss and gives its port the schedule.
func (p *Policy) compileSchedule(ss *ScheduleSpec, errs *yamlfile.Errors) {
	switch {
	case ss.Name == "":
		switch {
		case ss.NameAt == (Pos{}):
			errs.Add(ss.Pos.errorf("schedule has no name"))
		case !errorAt(errs, ss.NameAt):
			errs.Add(ss.NameAt.errorf("%s is not a valid schedule name", quote(ss.Name)))
		}
		return
	case ss.Port == "":
		switch {
		case ss.PortAt == (Pos{}):
			errs.Add(ss.Pos.errorf("schedule has no port"))
		case !errorAt(errs, ss.PortAt):
			errs.Add(ss.PortAt.errorf("%s is not a port name", quote(ss.Port)))
		}
		return
	case ss.At == nil:
		errs.Add(ss.Pos.errorf("schedule has no at (when the link first goes down)"))
		return
	case ss.Every > 0 && (ss.DownFor == 0 || ss.DownFor >= ss.Every):
		errs.Add(ss.Pos.errorf("down %s every %s: the time down must be positive and shorter than the period", ss.DownFor, ss.Every))
		return
	case ss.Every == 0 && ss.Count > 0:
		errs.Add(ss.Pos.errorf("count needs every"))
		return
	}
	if err := p.checkPorts([]string{ss.Port}, nil, nil); err != nil {
		errs.Add(ss.Pos.errorf("%v", err))
		return
	}
	if err := p.addSchedule(ss.Name, ss.Port, *ss.At, ss.DownFor, ss.Every, ss.Count); err != nil {
		errs.Add(ss.Pos.errorf("%v", err))
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

// checkGroups checks a partition's groups: ports of the policy, each in
// one group, at least two groups.
func (p *Policy) checkGroups(groups [][]string) error {
	if len(groups) < 2 {
		return fmt.Errorf("a partition needs at least two groups")
	}
	in := map[string]int{}
	for i, g := range groups {
		if err := p.checkPorts(g, nil, nil); err != nil {
			return err
		}
		for _, n := range g {
			if j, seen := in[n]; seen && j == i {
				return fmt.Errorf("%s is listed twice in group %s", quote(n), quote(strings.Join(g, ",")))
			} else if seen {
				return fmt.Errorf("port %s is in more than one group", quote(n))
			}
			in[n] = i
		}
	}
	return nil
}
