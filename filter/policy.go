package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// Policy is a compiled, validated fault policy. It implements hub.Policy.
//
// Decide and the control hooks (StartPartition, HealPartition,
// AddPartition, HealAll, SetLink, Describe) must be called from one
// goroutine, the hub loop. Stats is safe for concurrent use.
type Policy struct {
	name  string // file name, or "flags"
	text  string // the source as given, for the control API
	seed  uint64
	scope // the ports and groups names resolve to

	rules  []*rule          // in evaluation order; changed only under mu (edit.go)
	byName map[string]*rule // hub loop only

	links map[linkKey]*linkState // hub loop only
	// byID finds a link's state by the core's port IDs, cheaper to hash
	// than the names; entries are checked against the names on use.
	byID map[[2]hub.PortID]*linkState

	// mu guards the shape of rules, partitions and portStates for Stats;
	// the hub loop, their only writer, reads them without it.
	mu         sync.RWMutex
	partitions []*partition
	portStates map[string]*portState

	// now is the latest time the hub loop gave the policy (a Decide, a
	// control call, Describe): Stats reports the partitions' and links'
	// state as of it. Written on the hub loop only.
	now atomic.Int64

	// scratch holds what one Decide hands the core by reference (copies'
	// notes, corrupted bytes): the core copies what it keeps before the
	// next Decide, so it is reused and a frame a rule acts on allocates
	// nothing. Hub loop only.
	scratch scratch
}

var _ hub.Policy = (*Policy)(nil)

type linkKey struct{ from, to string }

// linkState is everything the policy keeps for one ordered link.
type linkState struct {
	from, to         string
	fromPort, toPort *portState
	sep              []bool // sep[i]: partition i separates from and to
	rules            []ruleLink
}

type partition struct {
	name     string
	groups   [][]string
	side     map[string]int // port -> 1 + group index
	schedule string         // for people: "5s-8s", "after rule x matched 3 times"
	hold     time.Duration  // how long a trigger-started partition lasts; 0 = until healed
	fixedEnd *time.Duration // the end the policy gives it, after which a start trigger starts nothing; nil = none
	adhoc    bool
	tg       toggle
	specText string // spec(), made once (hub loop)
}

func (pt *partition) spec() string {
	parts := make([]string, len(pt.groups))
	for i, g := range pt.groups {
		parts[i] = strings.Join(g, ",")
	}
	return strings.Join(parts, "|")
}

// same reports whether pt and o cut the same links: the same groups, each
// the same set of ports, in any order.
func (pt *partition) same(o *partition) bool {
	return slices.Equal(canonGroups(pt.groups), canonGroups(o.groups))
}

// canonGroups is groups' spec with each group's ports, and the groups, in
// order.
func canonGroups(groups [][]string) []string {
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = strings.Join(slices.Sorted(slices.Values(g)), ",")
	}
	slices.Sort(out)
	return out
}

func (pt *partition) separates(from, to string) bool {
	a, b := pt.side[from], pt.side[to]
	return a != 0 && b != 0 && a != b
}

type portState struct {
	name     string
	schedule string // schedule name, "" when only the control API moves it
	desc     string
	tg       toggle
}

// trigger starts or ends a partition when a rule has matched n times (on
// one link, or on all links when link is unset). A start trigger counts
// every match and starts the partition's scheduled window when it fires,
// unless that window is already over (a fixed end passed). An end trigger
// counts only the matches made while the partition is in force, so it
// ends a partition that has begun, never one still to come.
type trigger struct {
	rule    string
	hasLink bool
	link    [2]string
	n       int64
	count   int64
	fired   bool
	part    *partition
	start   bool
}

func (t *trigger) hit(now time.Duration, from, to string) {
	if t.fired || (t.hasLink && (from != t.link[0] || to != t.link[1])) {
		return
	}
	tg := &t.part.tg
	if !t.start {
		if on, _ := tg.on(now); !on {
			return
		}
	}
	t.count++
	if t.count < t.n {
		return
	}
	t.fired = true
	if t.start {
		tg.startAt(now, t.part.hold)
	} else {
		tg.endAt(now)
	}
}

func newPolicy(name string, ports []string) *Policy {
	p := &Policy{
		name:       name,
		scope:      newScope(ports),
		byName:     map[string]*rule{},
		links:      map[linkKey]*linkState{},
		byID:       map[[2]hub.PortID]*linkState{},
		portStates: map[string]*portState{},
	}
	p.scratch.init()
	return p
}

// scope is what names in a policy resolve to: the hub's ports and the
// policy's groups of them.
type scope struct {
	ports  map[string]bool // nil: port names are not checked
	order  []string        // the ports in the hub's order (Stats lists them so)
	groups map[string][]string
}

func newScope(ports []string) scope {
	s := scope{groups: map[string][]string{}}
	if ports != nil {
		s.order = slices.Clone(ports)
		s.ports = make(map[string]bool, len(ports))
		for _, n := range ports {
			s.ports[n] = true
		}
	}
	return s
}

// Seed returns the policy's seed.
func (p *Policy) Seed() uint64 { return p.seed }

// Name returns where the policy came from: its file name, or "flags".
func (p *Policy) Name() string { return p.name }

// Hash identifies the policy's text (file and flags), as capture headers
// record it: the first 8 bytes of its SHA-256, in hex.
func (p *Policy) Hash() string {
	sum := sha256.Sum256([]byte(p.text))
	return hex.EncodeToString(sum[:8])
}

// Decide implements hub.Policy. Order of evaluation, first to last, each
// step able to end it with a drop:
//  1. link down: the ingress or egress port's link is down;
//  2. partitions, in file order (then ad-hoc ones in creation order);
//  3. every rule whose criteria match, in file order; a rule's impairments
//     run in a fixed order (mtu, drop, loss, duplicate, corrupt, rate,
//     reorder/delay) and a later rule sees the copies, delays and bytes an
//     earlier one produced. A drop ends evaluation: later rules neither
//     match nor count the frame.
//
// Decide does not retain frame or d. The notes of copies and their
// corrupted bytes live in the policy's scratch space until the next Decide
// (see hub.Decision).
func (p *Policy) Decide(now time.Duration, link hub.Link, frame []byte, d *hub.Decision) {
	p.advance(now)
	ls := p.linkFor(link)
	if n, cut := p.cut(now, now, ls); cut {
		d.Drop = true
		d.Copies = d.Copies[:0]
		d.Notes = append(d.Notes, n)
		return
	}
	p.scratch.reset()
	e := eval{now: now, frame: frame, d: d, sc: &p.scratch}
	for i, r := range p.rules {
		rl := &ls.rules[i]
		if !rl.applies || !r.m.frameOK(now, frame, &e.pk) {
			continue
		}
		rl.n++
		if !r.win.ok(rl.n) {
			continue
		}
		r.c.matched.Add(1)
		for _, t := range r.triggers {
			t.hit(now, ls.from, ls.to)
		}
		if r.apply(&e, rl) {
			return
		}
	}
	if e.multi && len(d.Copies) == 1 {
		if c := d.Copies[0]; c.Delay == 0 && c.Frame == nil && len(c.Notes) == 0 {
			d.Copies = d.Copies[:0] // one plain copy is the default
		}
	}
}

// advance records now as the policy's time, for Stats; time does not go
// back. Hub loop.
func (p *Policy) advance(now time.Duration) {
	if int64(now) > p.now.Load() {
		p.now.Store(int64(now))
	}
}

func (p *Policy) linkState(from, to string) *linkState {
	k := linkKey{from, to}
	if ls := p.links[k]; ls != nil {
		return ls
	}
	ls := &linkState{from: from, to: to, rules: make([]ruleLink, len(p.rules))}
	for i, r := range p.rules {
		ls.rules[i] = p.ruleLink(r, from, to)
	}
	ls.fromPort, ls.toPort = p.port(from), p.port(to)
	p.links[k] = ls
	return ls
}

// ruleLink is rule r's state on the link from->to as it starts: its
// random stream derived from (seed, link, rule name), nothing counted.
func (p *Policy) ruleLink(r *rule, from, to string) ruleLink {
	var rl ruleLink
	if rl.applies = r.m.linkOK(from, to); rl.applies {
		rl.s1, rl.s2 = streamSeed(p.seed, from, to, r.name)
	}
	return rl
}

// port returns the state of a port, creating it on first use.
func (p *Policy) port(name string) *portState {
	if ps := p.portStates[name]; ps != nil {
		return ps
	}
	ps := &portState{name: name}
	p.mu.Lock()
	p.portStates[name] = ps
	p.mu.Unlock()
	return ps
}

func (p *Policy) partition(name string) *partition {
	for _, pt := range p.partitions {
		if pt.name == name {
			return pt
		}
	}
	return nil
}

// StartPartition starts the named partition at now. It stays until healed,
// or until its schedule's next transition.
func (p *Policy) StartPartition(now time.Duration, name string) error {
	pt := p.partition(name)
	if pt == nil {
		return fmt.Errorf("partition %s: %w", quote(name), ErrUnknownPartition)
	}
	p.advance(now)
	pt.tg.set(now, true)
	return nil
}

// HealPartition ends the named partition at now.
func (p *Policy) HealPartition(now time.Duration, name string) error {
	pt := p.partition(name)
	if pt == nil {
		return fmt.Errorf("partition %s: %w", quote(name), ErrUnknownPartition)
	}
	p.advance(now)
	pt.tg.set(now, false)
	return nil
}

// HealAll ends every partition at now.
func (p *Policy) HealAll(now time.Duration) {
	p.advance(now)
	for _, pt := range p.partitions {
		pt.tg.set(now, false)
	}
}

// AddPartition starts an ad-hoc partition at now between groups of ports
// (port or group names), e.g. [[a], [b, c]]. An empty name is derived from
// the groups ("a|b,c"). Adding a name that exists with the same groups
// starts it again; with other groups it is an error. Ad-hoc partitions last
// as long as the Policy.
func (p *Policy) AddPartition(now time.Duration, name string, groups [][]string) (string, error) {
	specs := make([]string, len(groups))
	for i, g := range groups {
		specs[i] = strings.Join(g, ",")
	}
	spec := strings.Join(specs, "|")
	gs, err := p.parseGroups(spec)
	if err != nil {
		if name != "" && name != spec {
			return "", fmt.Errorf("partition %s (%s): %w", quote(name), spec, err)
		}
		return "", fmt.Errorf("partition %s: %w", quote(spec), err)
	}
	pt := &partition{groups: gs, adhoc: true, schedule: "control API"}
	pt.side = sides(gs)
	if name == "" {
		name = pt.spec()
	}
	if old := p.partition(name); old != nil {
		if !old.same(pt) { // the same groups in another order are the same partition
			return "", fmt.Errorf("partition %s already exists as %s", quote(name), old.spec())
		}
		p.advance(now)
		old.tg.set(now, true)
		return name, nil
	}
	if len(p.partitions) >= maxPartitions {
		return "", fmt.Errorf("partition %s: the policy has %d partitions, the most it holds; a healed one keeps its place and counters until set-policy replaces the policy, and starting an existing one again by its name (with the same groups) needs no new place", quote(name), maxPartitions)
	}
	pt.name = name
	p.advance(now)
	pt.tg.set(now, true)
	p.mu.Lock()
	p.partitions = append(p.partitions, pt)
	p.mu.Unlock()
	return name, nil
}

// SetLink sets a port's link up or down at now, overriding its schedule
// until the schedule's next transition. While down, frames to and from the
// port are dropped with an Action "down" note.
func (p *Policy) SetLink(now time.Duration, port string, up bool) error {
	if p.ports != nil && !p.ports[port] {
		return fmt.Errorf("port %s: %w", quote(port), hub.ErrNoPort)
	}
	p.advance(now)
	p.port(port).tg.set(now, !up)
	return nil
}

func sides(groups [][]string) map[string]int {
	m := map[string]int{}
	for i, g := range groups {
		for _, n := range g {
			m[n] = i + 1
		}
	}
	return m
}

// parseGroups reads "a|b,c" into groups of port names, expanding group names
// and checking ports. A port may be in only one group.
func (p *scope) parseGroups(s string) ([][]string, error) {
	parts := strings.Split(s, "|")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%s needs at least two groups separated by |", quote(s))
	}
	in := map[string]int{} // port -> the group it is in
	var out [][]string
	for i, part := range parts {
		var g []string
		var written []string
		for _, n := range strings.Split(part, ",") {
			n = strings.TrimSpace(n)
			if slices.Contains(written, n) {
				return nil, fmt.Errorf("%s is listed twice in group %s", quote(n), quote(part))
			}
			written = append(written, n)
			ports, err := p.expand(n)
			if err != nil {
				return nil, err
			}
			for _, port := range ports {
				if err := twiceIn(in, port, i, part); err != nil {
					return nil, err
				}
				g = append(g, port)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// twiceIn records that port is in group i (written as group, for the
// error), and says so when it is in a group already: in the same one (a
// port and a group name that holds it), or in another.
func twiceIn(in map[string]int, port string, i int, group string) error {
	j, seen := in[port]
	switch {
	case seen && j == i:
		return fmt.Errorf("port %s is in group %s twice (a group name there holds it)", quote(port), quote(group))
	case seen:
		return fmt.Errorf("port %s is in more than one group", quote(port))
	}
	in[port] = i
	return nil
}

// expand turns a port or group name into port names.
func (p *scope) expand(name string) ([]string, error) {
	if g, ok := p.groups[name]; ok {
		return g, nil
	}
	if !validName(name) {
		return nil, fmt.Errorf("%s is not a port name", quote(name))
	}
	if p.ports != nil && !p.ports[name] {
		return nil, fmt.Errorf("port %s does not exist (ports: %s)", quote(name), strings.Join(sortedKeys(p.ports), ", "))
	}
	return []string{name}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
