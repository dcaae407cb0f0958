package filter

import (
	"slices"
	"strings"
	"time"
)

// RuleStats are one rule's counters, totals over all links. Matched counts
// frames the rule matched (window included); dropped, frames it dropped
// (mtu, drop, loss); delayed, duplicated (extra copies made), corrupted,
// queued (waited in the rate queue) and overflowed (dropped by a full rate
// queue) count copies.
type RuleStats struct {
	Rule       string `json:"rule"`
	Matched    uint64 `json:"matched"`
	Dropped    uint64 `json:"dropped"`
	Delayed    uint64 `json:"delayed"`
	Duplicated uint64 `json:"duplicated"`
	Corrupted  uint64 `json:"corrupted"`
	Queued     uint64 `json:"queued"`
	Overflowed uint64 `json:"overflowed"`
}

// PartitionStats is a partition's state as of the policy's time (the
// latest time the hub loop gave it: a frame, a control call, Describe) and
// the frames it dropped.
type PartitionStats struct {
	Name    string `json:"name"`
	Groups  string `json:"groups"` // "a|b,c"
	Active  bool   `json:"active"`
	Dropped uint64 `json:"dropped"`
}

// PortStats is a port's link state as of the policy's time (see
// PartitionStats) and the frames dropped while it was down.
type PortStats struct {
	Port    string `json:"port"`
	Down    bool   `json:"down"`
	Dropped uint64 `json:"dropped"`
	// Schedule is the flap schedule that moves the link, as Describe
	// says it ("down:b: down 5s-6s"); "" when only the control API does.
	Schedule string `json:"schedule,omitempty"`
}

// Stats is every counter of a policy.
type Stats struct {
	Rules      []RuleStats      `json:"rules"`
	Partitions []PartitionStats `json:"partitions"`
	Ports      []PortStats      `json:"ports"`
}

// StatsAt is Stats as of now, the time since the hub started: what a
// caller that owns the hub's clock asks, so that a partition or a link
// whose schedule ran out while no frame crossed shows as it is.
func (p *Policy) StatsAt(now time.Duration) Stats {
	p.advance(now)
	return p.Stats()
}

// Stats lists the counters: rules in file order, partitions in file then
// creation order, and a link state for every port of the hub, in the
// hub's order, whether or not a frame has crossed it, so that a script
// finds each port's (a policy compiled without the hub's ports lists
// those it has seen, by name). Safe for concurrent use with Decide.
func (p *Policy) Stats() Stats {
	var s Stats
	now := time.Duration(p.now.Load())
	p.mu.RLock()
	defer p.mu.RUnlock()
	s.Rules = make([]RuleStats, len(p.rules))
	for i, r := range p.rules {
		s.Rules[i] = r.stats()
	}
	for _, pt := range p.partitions {
		s.Partitions = append(s.Partitions, PartitionStats{
			Name: pt.name, Groups: pt.spec(), Active: pt.tg.onAt(now), Dropped: pt.tg.drops.Load(),
		})
	}
	names := slices.Clip(p.order) // appending copies it
	for _, name := range sortedKeys(p.portStates) {
		if !p.ports[name] {
			names = append(names, name) // a port the hub's list lacks: none, when the policy has it
		}
	}
	for _, name := range names {
		st := PortStats{Port: name}
		if ps := p.portStates[name]; ps != nil {
			st.Down, st.Dropped, st.Schedule = ps.tg.onAt(now), ps.tg.drops.Load(), ps.desc
		}
		s.Ports = append(s.Ports, st)
	}
	return s
}

func (r *rule) stats() RuleStats {
	return RuleStats{
		Rule:       r.name,
		Matched:    r.c.matched.Load(),
		Dropped:    r.c.dropped.Load(),
		Delayed:    r.c.delayed.Load(),
		Duplicated: r.c.duplicated.Load(),
		Corrupted:  r.c.corrupted.Load(),
		Queued:     r.c.queued.Load(),
		Overflowed: r.c.overflowed.Load(),
	}
}

// Description is the policy as the control API shows it: what each rule,
// partition and schedule does, its state now and its counters.
type Description struct {
	Name       string                 `json:"name"` // file name, or "flags"
	Seed       uint64                 `json:"seed"`
	Groups     map[string][]string    `json:"groups,omitempty"`
	Rules      []RuleDescription      `json:"rules"`
	Partitions []PartitionDescription `json:"partitions"`
	Ports      []PortDescription      `json:"ports"`
	Text       string                 `json:"text,omitempty"` // the source as given (rules edited since show in Rules only)
}

// RuleDescription is one rule: its criteria and impairments in the policy
// file's own vocabulary, and its counters.
type RuleDescription struct {
	Name     string    `json:"name"`
	Match    string    `json:"match"`   // "from=a protocol=udp payload=\"NXSB\" first=3"; "" matches all
	Actions  []string  `json:"actions"` // "loss 5%", "delay 20ms±5ms uniform fifo"
	Counters RuleStats `json:"counters"`
}

// String says what the rule matches and does: "match link=a->b: loss 5%".
func (d RuleDescription) String() string {
	match := d.Match
	if match == "" {
		match = "all"
	}
	s := "match " + match
	if len(d.Actions) > 0 {
		s += ": " + strings.Join(d.Actions, ", ")
	}
	return s
}

// describe describes the rule as Describe does.
func (r *rule) describe() RuleDescription {
	d := RuleDescription{Name: r.name, Match: r.matchDesc, Actions: slices.Clone(r.actionDescs), Counters: r.stats()}
	if d.Actions == nil {
		d.Actions = []string{}
	}
	return d
}

// PartitionDescription is one partition.
type PartitionDescription struct {
	Name     string `json:"name"`
	Groups   string `json:"groups"`
	Schedule string `json:"schedule"`
	AdHoc    bool   `json:"adhoc,omitempty"`
	Active   bool   `json:"active"`
	Dropped  uint64 `json:"dropped"`
}

// PortDescription is one port's link state.
type PortDescription struct {
	Port     string `json:"port"`
	Schedule string `json:"schedule,omitempty"`
	Down     bool   `json:"down"`
	Dropped  uint64 `json:"dropped"`
}

// Describe reports the policy with every partition and link state evaluated
// at now. Call it on the hub loop.
func (p *Policy) Describe(now time.Duration) Description {
	p.advance(now)
	d := Description{Name: p.name, Seed: p.seed, Text: p.text}
	if len(p.groups) > 0 {
		d.Groups = map[string][]string{}
		for k, v := range p.groups {
			d.Groups[k] = slices.Clone(v)
		}
	}
	d.Rules = make([]RuleDescription, len(p.rules))
	for i, r := range p.rules {
		d.Rules[i] = r.describe()
	}
	d.Partitions = []PartitionDescription{}
	for _, pt := range p.partitions {
		on, _ := pt.tg.on(now)
		d.Partitions = append(d.Partitions, PartitionDescription{
			Name: pt.name, Groups: pt.spec(), Schedule: pt.schedule, AdHoc: pt.adhoc, Active: on, Dropped: pt.tg.drops.Load(),
		})
	}
	names := sortedKeys(p.portStates)
	for n := range p.ports {
		if _, ok := p.portStates[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	d.Ports = []PortDescription{}
	for _, n := range slices.Compact(names) {
		pd := PortDescription{Port: n}
		if ps := p.portStates[n]; ps != nil {
			pd.Down, _ = ps.tg.on(now)
			pd.Schedule, pd.Dropped = ps.desc, ps.tg.drops.Load()
		}
		d.Ports = append(d.Ports, pd)
	}
	return d
}

// String renders a description as text, one line per item.
func (d Description) String() string {
	var b strings.Builder
	b.WriteString("policy " + d.Name + " seed " + formatUint(d.Seed) + "\n")
	for _, r := range d.Rules {
		b.WriteString("rule " + r.Name)
		if r.Match != "" {
			b.WriteString(" [" + r.Match + "]")
		}
		if len(r.Actions) > 0 {
			b.WriteString(": " + strings.Join(r.Actions, ", "))
		}
		c := r.Counters
		b.WriteString(" (matched " + formatUint(c.Matched) + " dropped " + formatUint(c.Dropped) +
			" delayed " + formatUint(c.Delayed) + " duplicated " + formatUint(c.Duplicated) +
			" corrupted " + formatUint(c.Corrupted) + " queued " + formatUint(c.Queued) +
			" overflowed " + formatUint(c.Overflowed) + ")\n")
	}
	for _, pt := range d.Partitions {
		state := "healed"
		if pt.Active {
			state = "ACTIVE"
		}
		b.WriteString("partition " + pt.Name + " " + pt.Groups + " " + pt.Schedule + ": " + state +
			" (dropped " + formatUint(pt.Dropped) + ")\n")
	}
	for _, ps := range d.Ports {
		state := "up"
		if ps.Down {
			state = "DOWN"
		}
		b.WriteString("port " + ps.Port + ": " + state)
		if ps.Schedule != "" {
			b.WriteString(" (" + ps.Schedule + ")")
		}
		b.WriteString(" (dropped " + formatUint(ps.Dropped) + ")\n")
	}
	return b.String()
}
