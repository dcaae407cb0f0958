package filter

import (
	"time"

	"l2hub/hub"
)

// Cut reports whether link was cut at any time from sent, when a delayed
// copy was decided, to now, when it is due, both included: a port of it
// down (ctl link, a flap schedule) or a partition separating its ends. So
// a copy that waited out its delay on a link cut meanwhile is lost, as a
// frame on a cut wire is (hub.Gate), even when the link is whole again by
// the time it is due. The drop counts against the schedule or partition
// that cut the link, never against a rule.
func (p *Policy) Cut(sent, now time.Duration, link hub.Link) (hub.Note, bool) {
	p.advance(now)
	return p.cut(sent, now, p.linkFor(link))
}

// linkFor is the state of link, looked up by its port IDs (a port
// re-added under another name gets a fresh one).
func (p *Policy) linkFor(link hub.Link) *linkState {
	ls := p.byID[[2]hub.PortID{link.From, link.To}]
	if ls == nil || ls.from != link.FromName || ls.to != link.ToName {
		ls = p.linkState(link.FromName, link.ToName)
		p.byID[[2]hub.PortID{link.From, link.To}] = ls
	}
	return ls
}

// cut is Cut on ls's link: its ports' link state first, then the
// partitions in policy order. It counts the drop against what cut it.
func (p *Policy) cut(sent, now time.Duration, ls *linkState) (hub.Note, bool) {
	for _, ps := range [2]*portState{ls.fromPort, ls.toPort} {
		on, sched := false, false
		if ps.tg.instant(sent, now) { // onSince, its call saved on every Decide
			on, sched = ps.tg.on(now)
		} else {
			on, sched = ps.tg.onSinceSpan(sent, now)
		}
		if on {
			rule := ""
			if sched {
				rule = ps.schedule
			}
			ps.tg.drops.Add(1)
			return hub.Note{Rule: rule, Action: "down", Args: hub.NoteArgs{Layout: "port %s", S: ps.name}}, true
		}
	}
	for len(ls.sep) < len(p.partitions) {
		ls.sep = append(ls.sep, p.partitions[len(ls.sep)].separates(ls.from, ls.to))
	}
	for i, pt := range p.partitions {
		if !ls.sep[i] {
			continue
		}
		on := false
		if pt.tg.instant(sent, now) {
			on, _ = pt.tg.on(now)
		} else {
			on, _ = pt.tg.onSinceSpan(sent, now)
		}
		if on {
			pt.tg.drops.Add(1)
			if pt.specText == "" {
				pt.specText = pt.spec()
			}
			return hub.Note{Rule: pt.name, Action: "partition", Detail: pt.specText}, true
		}
	}
	return hub.Note{}, false
}
