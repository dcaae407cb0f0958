package lab

// This file reads the lab file's phases: (named marker sets across VMs,
// each with its bound, budget and evidence) and triggers: (an action on a
// marker or at a time, and its for:), and parses a trigger's do: into an
// Action (parseAction); it checks each heal against the partitions the
// triggers and the hub's policy make.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"l2hub/filter"
	"l2hub/internal/suggest"
)

var phaseName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

func (p *parser) vmIndex(name string) int {
	return slices.IndexFunc(p.lab.VMs, func(vm VM) bool { return vm.Name == name })
}

func (p *parser) vmNames() string {
	names := make([]string, len(p.lab.VMs))
	for i, vm := range p.lab.VMs {
		names[i] = vm.Name
	}
	return strings.Join(names, ", ")
}

// perVM reads a mapping of VM name to one pattern or a list of them.
func (p *parser) perVM(n *yaml.Node, path string) [][]Pattern {
	out := make([][]Pattern, len(p.lab.VMs))
	p.errs.Entries(n, path, "a mapping of VM name to markers", func(k, v *yaml.Node, kpath string) {
		if vi := p.vmIndex(k.Value); vi >= 0 {
			out[vi] = p.patterns(v, kpath)
		} else {
			p.errf(k, kpath, "no VM named %q (VMs: %s)", k.Value, p.vmNames())
		}
	})
	return out
}

// reservedPhases are the phase names (as codes) the runner's own failure
// codes use: a phase of that name would make the same codes.
var reservedPhases = map[string]string{
	"RUN":  "RUN_TIMEOUT, RUN_<VM>_ENDED: a lab without phases",
	"END":  "END_TIMEOUT, END_<VM>_ENDED: a marker still owed after the last phase",
	"SOAK": "SOAK_TIMEOUT, SOAK_<VM>_ENDED: --soak",
}

func (p *parser) readPhases(n *yaml.Node) {
	names := map[string]bool{}
	codes := map[string]string{} // a phase's name as a failure code: its first phase's name
	p.list(n, "phases", maxPhases, func(_ int, item *yaml.Node, path string) {
		ph := Phase{Within: p.lab.Timeout}
		var nameNode, markersNode, budgetNode *yaml.Node
		markersBad := false
		p.errs.Fields(item, path, []string{"name", "markers", "within", "budget", "evidence"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "name":
				nameNode = v
				if s, ok := p.str(v, kpath); ok {
					if !phaseName.MatchString(s) {
						p.errf(v, kpath, "%q: want a name of letters, digits, '-' and '_' (it makes failure codes: %s_TIMEOUT)", s, Code(s))
					} else if why, ok := reservedPhases[Code(s)]; ok {
						p.errf(v, kpath, "%q: the runner's own codes use it (%s): name the phase otherwise", s, why)
					} else if names[strings.ToLower(s)] {
						p.errf(v, kpath, "%q: there is already a phase of that name", s)
					} else if other, ok := codes[Code(s)]; ok {
						p.errf(v, kpath, "%q makes the same failure codes as phase %s (%s_TIMEOUT): name one otherwise", s, other, Code(s))
					}
					names[strings.ToLower(s)] = true
					if _, ok := codes[Code(s)]; !ok {
						codes[Code(s)] = s
					}
					ph.Name = s
				}
			case "markers":
				markersNode = v
				before := len(p.errs.List)
				ph.Markers = p.perVM(v, kpath)
				markersBad = len(p.errs.List) > before
			case "within":
				if d, ok := p.duration(v, kpath, false); ok {
					ph.Within = d
				}
			case "budget":
				budgetNode = v
				ph.Budget, _ = p.duration(v, kpath, false)
			case "evidence":
				ph.Evidence = p.perVM(v, kpath)
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		if nameNode == nil {
			p.errf(item, path+".name", "missing: every phase needs a name")
		}
		if markersNode == nil || !markersBad && !slices.ContainsFunc(ph.Markers, func(m []Pattern) bool { return len(m) > 0 }) {
			p.errf(item, path+".markers", "missing: a phase waits for at least one marker")
		}
		if ph.Budget > ph.Within {
			p.errf(budgetNode, path+".budget", "%s is above within (%s): the phase would time out before it could overrun", ph.Budget, ph.Within)
		}
		p.lab.Phases = append(p.lab.Phases, ph)
	})
}

func (p *parser) readTriggers(n *yaml.Node) {
	ports := p.lab.Hub.PortNames()
	if len(ports) == 0 { // the hub section failed: its errors are reported
		for _, vm := range p.lab.VMs {
			ports = append(ports, vm.Port)
		}
	}
	if len(n.Content) > 0 && p.lab.Hub.Control == "off" {
		p.errf(n, "triggers", "the hub's control API is off (hub.control), and triggers act through it")
	}
	names := map[string]bool{}
	type heal struct {
		node *yaml.Node
		path string
		text string
		ti   int // its index in p.lab.Triggers
	}
	var heals []heal
	var partitions, others []string // triggers' names, those that make a partition (even one refused) and not
	type named struct {
		node *yaml.Node // its name:, or the trigger, named by default
		path string
	}
	var partitionNodes []named // per entry of partitions
	for i := range min(len(n.Content), maxTriggers) {
		names[fmt.Sprintf("trigger-%d", i+1)] = true
	}
	p.list(n, "triggers", maxTriggers, func(i int, item *yaml.Node, path string) {
		tr := Trigger{OnVM: -1, Name: fmt.Sprintf("trigger-%d", i+1)}
		var onNode, atNode, doNode, forNode, nameNode *yaml.Node
		var doText string
		p.errs.Fields(item, path, []string{"name", "on", "at", "do", "for"}, func(key string, v *yaml.Node, kpath string) {
			switch key {
			case "name":
				nameNode = v
				if s, ok := p.str(v, kpath); ok {
					if !validPolicyName(s) {
						p.errf(v, kpath, "%q: want 1-64 letters, digits, '-', '_', '.' or ':' (it names the partition in the policy and the capture)", s)
					} else if names[s] && s != tr.Name {
						p.errf(v, kpath, "%q: another trigger has that name", s)
					}
					names[s] = true
					tr.Name = s
				}
			case "on":
				onNode = v
				s, ok := p.str(v, kpath)
				if !ok {
					return
				}
				vm, marker, found := strings.Cut(s, ": ")
				if !found || p.vmIndex(vm) < 0 {
					p.errf(v, kpath, "%q: want \"VM: marker\", with a VM of the lab (%s)", s, p.vmNames())
					return
				}
				tr.OnVM = p.vmIndex(vm)
				if pt, err := ParsePattern(marker); err != nil {
					p.errf(v, kpath, "%v", err)
				} else {
					tr.On = pt
				}
			case "at":
				atNode = v
				if d, ok := p.duration(v, kpath, true); ok {
					tr.At = d
				}
			case "do":
				doNode = v
				doText, _ = p.str(v, kpath)
			case "for":
				forNode = v
				tr.For, _ = p.duration(v, kpath, false)
			}
		})
		if item.Kind != yaml.MappingNode {
			return
		}
		switch {
		case onNode != nil && atNode != nil:
			p.errf(atNode, path+".at", "give on: or at:, not both")
		case onNode == nil && atNode == nil:
			p.errf(item, path, "missing on: (\"VM: marker\") or at: (a time since the run's start)")
		case atNode != nil && tr.At >= p.lab.Timeout:
			p.errf(atNode, path+".at", "%s is not before the run's timeout (%s)", tr.At, p.lab.Timeout)
		}
		if doNode == nil {
			p.errf(item, path+".do", "missing: what should the trigger do (partition a|b, link b down, heal NAME)?")
			return
		}
		if f := strings.Fields(doText); len(f) > 0 && f[0] == "partition" {
			partitions = append(partitions, tr.Name)
			if nameNode != nil {
				partitionNodes = append(partitionNodes, named{nameNode, path + ".name"})
			} else {
				partitionNodes = append(partitionNodes, named{item, path})
			}
		} else {
			others = append(others, tr.Name)
		}
		act, err := parseAction(doText, ports, p.lab.VMs)
		if err != nil {
			p.errf(doNode, path+".do", "%q: %v", doText, err)
			return
		}
		tr.Do = act
		if act.Kind == ActHeal {
			heals = append(heals, heal{doNode, path + ".do", doText, len(p.lab.Triggers)})
		}
		if forNode != nil && act.Kind == ActHeal {
			p.errf(forNode, path+".for", "a heal cannot be undone; for: applies to partition and link")
		}
		tr.Text = triggerText(p.lab.VMs, tr)
		p.lab.Triggers = append(p.lab.Triggers, tr)
	})
	if len(heals) == 0 && len(partitions) == 0 {
		return
	}
	policy, known := p.policyPartitions()
	// A partition trigger's partition is named after it, in the policy
	// the hub holds: the hub refuses a name the policy has (with other
	// groups), and a heal of that name could not tell the two apart.
	for i, name := range partitions {
		if !slices.Contains(policy, name) {
			continue
		}
		pn := partitionNodes[i]
		what := fmt.Sprintf("%q", name)
		if pn.node.Kind == yaml.MappingNode {
			what = fmt.Sprintf("its default name %q", name)
		}
		p.errf(pn.node, pn.path, "%s: trigger %s makes partition %s, and the hub's policy %s has a partition of that name: name the trigger otherwise (its partition is named after it)",
			what, name, name, p.lab.Hub.Policy)
	}
	if len(heals) == 0 {
		return
	}
	// A heal names a partition: a partition trigger's, or the policy's
	// (checked now, not when it fires minutes into the run).
	partitions = append(partitions, policy...)
	for _, h := range heals {
		// A heal that comes due before its partition is made does
		// nothing (see judge.fireTrigger). An at: heal whose partition
		// comes later, or may, is refused when that would leave the
		// partition to the run's end, or warned of when it would cut it
		// short.
		tr := p.lab.Triggers[h.ti]
		pt := slices.IndexFunc(p.lab.Triggers, func(o Trigger) bool { return o.Do.Kind == ActPartition && o.Name == tr.Do.Target })
		if tr.OnVM >= 0 || pt < 0 {
			continue
		}
		switch part := p.lab.Triggers[pt]; {
		case part.OnVM < 0 && part.At >= tr.At:
			advice := fmt.Sprintf("heal it after %s, or give %s a for: instead", part.At, part.Name)
			if part.For > 0 {
				advice = fmt.Sprintf("remove this heal: %s's for: (%s) bounds it", part.Name, part.For)
			}
			p.errf(h.node, h.path, "%q at %s: partition %s is made at %s, not before it, and the heal would find nothing to heal: %s",
				h.text, tr.At, part.Name, part.At, advice)
		case part.OnVM < 0:
		case part.For == 0:
			p.errf(h.node, h.path, "%q at %s: partition %s is made on a marker (on %s: %q), which may come after %s, and the heal would then find nothing to heal and leave %s to the run's end: give %s a for: instead of this heal, to keep it that long whatever the guests' speed",
				h.text, tr.At, part.Name, p.lab.VMs[part.OnVM].Name, part.On.String(), tr.At, part.Name, part.Name)
		default:
			p.lab.Warnings = append(p.lab.Warnings, fmt.Sprintf("%s:%d:%d: %s: %q at %s, and partition %s is made on a marker: the heal cuts it short if the marker comes before %s, and is dropped if it comes after (its for: %s governs then); to keep %s for %s whatever the guests' speed, remove this heal",
				p.name, h.node.Line, h.node.Column, h.path, h.text, tr.At, part.Name, tr.At, part.For, part.Name, part.For))
		}
	}
	for _, h := range heals {
		name := strings.Fields(h.text)[1]
		if slices.Contains(partitions, name) || !known {
			continue
		}
		msg := fmt.Sprintf("no partition named %q", name)
		if slices.Contains(others, name) {
			msg = fmt.Sprintf("trigger %q makes no partition, and heal ends a partition", name)
		}
		if len(partitions) == 0 {
			msg += " (the lab has none: no partition trigger, none in the policy)"
		} else {
			msg += fmt.Sprintf(" (partitions: %s)", strings.Join(partitions, ", "))
		}
		if near, ok := suggest.Nearest(name, partitions); ok {
			msg += fmt.Sprintf("; did you mean heal %s?", near)
		}
		p.errf(h.node, h.path, "%q: %s", h.text, msg)
	}
}

// policyPartitions are the names of the partitions in the hub's policy
// file; ok is false when they are unknown: the policy could not be read,
// the hub section has a key serve does not know (a mistyped policy:?), or
// serve could not read a section with a policy: (their errors are
// reported).
func (p *parser) policyPartitions() (names []string, ok bool) {
	if n := p.hubNode; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if k != "capture" && !slices.Contains(hubKeys, k) || k == "policy" && !p.hubRead {
				return nil, false
			}
		}
	}
	if !p.hubRead || p.lab.Hub.Policy == "" {
		return nil, true
	}
	spec, err := filter.LoadSpec(p.lab.Hub.Policy, p.lab.Hub.PortNames())
	if err != nil {
		return nil, false
	}
	for _, ps := range spec.Partitions {
		names = append(names, ps.Name)
	}
	return names, true
}

func triggerText(vms []VM, tr Trigger) string {
	var b strings.Builder
	if tr.OnVM >= 0 {
		fmt.Fprintf(&b, "on %s: %q: ", vms[tr.OnVM].Name, tr.On.String())
	} else {
		fmt.Fprintf(&b, "at %s: ", tr.At)
	}
	b.WriteString(tr.Do.String())
	if tr.For > 0 {
		fmt.Fprintf(&b, " for %s", tr.For)
	}
	return b.String()
}

// policyName is the policy's rule for partition names (filter).
var policyName = regexp.MustCompile(`^[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,63}$`)

func validPolicyName(s string) bool { return policyName.MatchString(s) && !strings.Contains(s, "->") }

// parseAction reads a trigger's do: "partition a|b", "partition a,c|b",
// "heal NAME", "link PORT up|down". ports are the hub's; a VM's name
// stands for its port.
func parseAction(s string, ports []string, vms []VM) (Action, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Action{}, errors.New("empty")
	}
	resolve := func(name string) (string, error) {
		if slices.Contains(ports, name) {
			return name, nil
		}
		for _, vm := range vms {
			if vm.Name == name {
				return vm.Port, nil
			}
		}
		return "", fmt.Errorf("no port or VM %q (ports: %s)", name, strings.Join(ports, ", "))
	}
	switch f[0] {
	case "partition":
		if len(f) != 2 {
			return Action{}, errors.New("want partition GROUP|GROUP, such as partition a|b or partition a,c|b")
		}
		var a Action
		a.Kind = ActPartition
		seen := map[string]bool{}
		for g := range strings.SplitSeq(f[1], "|") {
			var group []string
			for name := range strings.SplitSeq(g, ",") {
				port, err := resolve(name)
				if err != nil {
					return Action{}, err
				}
				if seen[port] {
					return Action{}, fmt.Errorf("port %q is in two groups", port)
				}
				seen[port] = true
				group = append(group, port)
			}
			a.Groups = append(a.Groups, group)
		}
		if len(a.Groups) < 2 {
			return Action{}, errors.New("one group separates nothing: want two or more, such as a|b")
		}
		return a, nil
	case "heal":
		if len(f) != 2 || !validPolicyName(f[1]) {
			return Action{}, errors.New("want heal NAME, the name of a partition (a trigger's name, or the policy's)")
		}
		return Action{Kind: ActHeal, Target: f[1]}, nil
	case "link":
		if len(f) != 3 || (f[2] != "up" && f[2] != "down") {
			return Action{}, errors.New("want link PORT up or link PORT down")
		}
		port, err := resolve(f[1])
		if err != nil {
			return Action{}, err
		}
		return Action{Kind: ActLink, Target: port, Up: f[2] == "up"}, nil
	}
	return Action{}, fmt.Errorf("unknown action %q: want partition, heal or link", f[0])
}
