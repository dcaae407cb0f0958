package filter

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func (w *walker) partition(n *yaml.Node, path string) {
	pt := &partition{}
	var startTrig, endTrig *trigger
	var nameNode, groupsNode *yaml.Node
	var duration time.Duration
	hasDuration := false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) {
			nameNode = v
			if s, ok := w.scalar(v, p); ok {
				if !validName(s) {
					w.errf(v, p, "%q is not a valid partition name", s)
					return
				}
				pt.name = s
			}
		},
		"groups": func(v *yaml.Node, p string) {
			groupsNode = v
			pt.groups = w.partitionGroups(v, p)
		},
		"start": func(v *yaml.Node, p string) {
			if v.Kind == yaml.MappingNode {
				startTrig = w.trigger(v, p)
				return
			}
			pt.tg.start, pt.tg.hasStart = w.duration(v, p)
		},
		"end": func(v *yaml.Node, p string) {
			if v.Kind == yaml.MappingNode {
				endTrig = w.trigger(v, p)
				return
			}
			pt.tg.end, pt.tg.hasEnd = w.duration(v, p)
		},
		"duration": func(v *yaml.Node, p string) {
			if d, ok := w.duration(v, p); ok {
				if d == 0 {
					w.errf(v, p, "duration must be positive")
					return
				}
				duration, hasDuration = d, true
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if nameNode == nil {
		w.errf(n, path, "partition has no name")
	}
	if groupsNode == nil {
		w.errf(n, path, "partition has no groups (write groups: a|b)")
	}
	if hasDuration {
		switch {
		case pt.tg.hasEnd || endTrig != nil:
			w.errf(n, path, "give end or duration, not both")
		case pt.tg.hasStart:
			pt.tg.end, pt.tg.hasEnd = pt.tg.start+duration, true
		case startTrig != nil:
			pt.hold = duration
		default:
			w.errf(n, path, "duration needs a start")
		}
	}
	if pt.tg.hasStart && pt.tg.hasEnd && pt.tg.end <= pt.tg.start {
		w.errf(n, path, "ends at %s, not after its start at %s", pt.tg.end, pt.tg.start)
	}
	if pt.name == "" || pt.groups == nil {
		return
	}
	if w.p.partition(pt.name) != nil {
		w.errf(nameNode, joinPath(path, "name"), "partition name %q is used twice", pt.name)
		return
	}
	if len(w.p.partitions) >= maxPartitions {
		w.errf(n, path, "more than %d partitions", maxPartitions)
		return
	}
	pt.side = sides(pt.groups)
	for _, t := range []*trigger{startTrig, endTrig} {
		if t != nil {
			t.part = pt
			w.p.byName[t.rule].triggers = append(w.p.byName[t.rule].triggers, t)
		}
	}
	if startTrig != nil {
		startTrig.start = true
	}
	pt.schedule = partitionSchedule(&pt.tg, startTrig, endTrig, pt.hold)
	w.p.partitions = append(w.p.partitions, pt)
}

// partitionGroups reads "a|b,c" or a list of groups, each a port, a group
// name or a list of those.
func (w *walker) partitionGroups(n *yaml.Node, path string) [][]string {
	if n.Kind == yaml.ScalarNode {
		s, ok := w.scalar(n, path)
		if !ok {
			return nil
		}
		gs, err := w.p.parseGroups(s)
		if err != nil {
			w.errf(n, path, "%v", err)
			return nil
		}
		return gs
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) < 2 || len(n.Content) > maxListLen {
		w.errf(n, path, "want \"a|b\" or a list of at least two groups")
		return nil
	}
	var specs []string
	for i, g := range n.Content {
		items, ok := w.items(g, fmt.Sprintf("%s[%d]", path, i))
		if !ok {
			return nil
		}
		var names []string
		for _, it := range items {
			s, ok := w.scalar(it, path)
			if !ok {
				return nil
			}
			names = append(names, s)
		}
		specs = append(specs, strings.Join(names, ","))
	}
	gs, err := w.p.parseGroups(strings.Join(specs, "|"))
	if err != nil {
		w.errf(n, path, "%v", err)
		return nil
	}
	return gs
}

// trigger reads {rule, matches, link}.
func (w *walker) trigger(n *yaml.Node, path string) *trigger {
	t := &trigger{}
	var ruleNode *yaml.Node
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"rule": func(v *yaml.Node, p string) {
			ruleNode = v
			t.rule, _ = w.scalar(v, p)
		},
		"matches": func(v *yaml.Node, p string) { t.n, _ = w.integer(v, p, 1, 1<<62) },
		"link": func(v *yaml.Node, p string) {
			s, ok := w.scalar(v, p)
			if !ok {
				return
			}
			ls, err := w.p.parseLink(s)
			if err == nil && (ls.both || len(ls.from) != 1 || len(ls.to) != 1) {
				err = fmt.Errorf("a trigger counts one link (a->b), not %q", s)
			}
			if err != nil {
				w.errf(v, p, "%v", err)
				return
			}
			t.hasLink, t.link = true, [2]string{ls.from[0], ls.to[0]}
		},
	})
	switch {
	case ruleNode == nil:
		w.errf(n, path, "trigger needs rule (and matches)")
		return nil
	case t.n == 0:
		w.errf(n, path, "trigger needs matches (a count from 1)")
		return nil
	case w.p.byName[t.rule] == nil:
		w.errf(ruleNode, joinPath(path, "rule"), "no rule named %q", t.rule)
		return nil
	}
	return t
}

func (w *walker) schedule(n *yaml.Node, path string) {
	var name, port string
	var portNode *yaml.Node
	tg := &toggle{}
	var downFor, every time.Duration
	var count int64
	hasAt := false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				if !validName(s) {
					w.errf(v, p, "%q is not a valid schedule name", s)
					return
				}
				name = s
			}
		},
		"port": func(v *yaml.Node, p string) {
			portNode = v
			if s, ok := w.scalar(v, p); ok {
				if _, isGroup := w.p.groups[s]; isGroup {
					w.errf(v, p, "a schedule moves one port, not group %q", s)
					return
				}
				if _, err := w.p.expand(s); err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				port = s
			}
		},
		"at":       func(v *yaml.Node, p string) { tg.start, hasAt = w.duration(v, p) },
		"down_for": func(v *yaml.Node, p string) { downFor, _ = w.duration(v, p) },
		"every":    func(v *yaml.Node, p string) { every, _ = w.duration(v, p) },
		"count":    func(v *yaml.Node, p string) { count, _ = w.integer(v, p, 1, 1<<40) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	switch {
	case name == "":
		w.errf(n, path, "schedule has no name")
		return
	case port == "":
		if portNode == nil {
			w.errf(n, path, "schedule has no port")
		}
		return
	case !hasAt:
		w.errf(n, path, "schedule has no at (when the link first goes down)")
		return
	case every > 0 && (downFor == 0 || downFor >= every):
		w.errf(n, path, "with every, down_for must be positive and shorter than every")
		return
	case every == 0 && count > 0:
		w.errf(n, path, "count needs every")
		return
	}
	if err := w.p.addSchedule(name, port, tg.start, downFor, every, count); err != nil {
		w.errf(n, path, "%v", err)
	}
}
