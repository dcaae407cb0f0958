package filter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"l2hub/internal/yamlfile"
)

// Compiling a Spec's partitions and link schedules (spec.go compiles its
// rules first, so that a trigger can name any of them). A partition's
// times, duration and triggers are checked together; a trigger that could
// never fire is refused here (triggerProblem, which a rule's update in
// edit.go asks too), as are groups that are not a partition of the ports.

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
