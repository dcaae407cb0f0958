package filter

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func (w *walker) partition(n *yaml.Node, path string) {
	ps := PartitionSpec{At: w.pos(n, path)}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) { w.name(v, p, "partition", &ps.Name, &ps.NameAt) },
		"groups": func(v *yaml.Node, p string) {
			ps.GroupsAt = w.pos(v, p)
			ps.Groups = w.partitionGroups(v, p)
		},
		"start": func(v *yaml.Node, p string) { w.timeOrTrigger(v, p, &ps.Start, &ps.StartTrigger) },
		"end":   func(v *yaml.Node, p string) { w.timeOrTrigger(v, p, &ps.End, &ps.EndTrigger) },
		"duration": func(v *yaml.Node, p string) {
			if d, ok := w.parsed(v, p, parseHold); ok {
				ps.Duration = d
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	w.spec.Partitions = append(w.spec.Partitions, ps)
}

// timeOrTrigger reads a partition's start or end: a trigger (a mapping)
// into *trig, or a policy time into *at.
func (w *walker) timeOrTrigger(v *yaml.Node, p string, at **time.Duration, trig **TriggerSpec) {
	if v.Kind == yaml.MappingNode {
		*trig = w.trigger(v, p)
		return
	}
	if d, ok := w.duration(v, p); ok {
		*at = &d
	}
}

// partitionGroups reads "a|b,c" or a list of groups, each a port, a group
// name or a list of those.
func (w *walker) partitionGroups(n *yaml.Node, path string) [][]string {
	if n.Kind == yaml.ScalarNode {
		s, ok := w.scalar(n, path)
		if !ok {
			return nil
		}
		gs, err := w.scope.parseGroups(s)
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
		first := map[string]*yaml.Node{}
		for _, it := range items {
			s, ok := w.scalar(it, path)
			if !ok {
				return nil
			}
			if at, twice := first[s]; twice {
				w.errf(it, fmt.Sprintf("%s[%d]", path, i), "%s is listed twice (first at line %d, column %d)", quote(s), at.Line, at.Column)
				return nil
			}
			first[s] = it
			names = append(names, s)
		}
		specs = append(specs, strings.Join(names, ","))
	}
	gs, err := w.scope.parseGroups(strings.Join(specs, "|"))
	if err != nil {
		w.errf(n, path, "%v", err)
		return nil
	}
	return gs
}

// trigger reads {rule, matches, link}; Compile checks the rule exists.
func (w *walker) trigger(n *yaml.Node, path string) *TriggerSpec {
	t := &TriggerSpec{}
	var ruleNode *yaml.Node
	hasMatches, good := false, false // given; and valid, its own error said if not
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"rule": func(v *yaml.Node, p string) {
			ruleNode = v
			t.RuleAt = w.pos(v, p)
			t.Rule, _ = w.scalar(v, p)
		},
		"matches": func(v *yaml.Node, p string) {
			hasMatches = true
			t.Matches, good = w.integer(v, p, 1, 1<<62)
		},
		"link": func(v *yaml.Node, p string) {
			t.LinkAt = w.pos(v, p)
			s, ok := w.scalar(v, p)
			if !ok {
				return
			}
			ls, err := w.scope.parseLink(s)
			if err == nil && (ls.both || len(ls.from) != 1 || len(ls.to) != 1) {
				err = fmt.Errorf("a trigger counts one link (a->b), not %s", quote(s))
			}
			if err != nil {
				w.errf(v, p, "%v", err)
				return
			}
			t.Link = &[2]string{ls.from[0], ls.to[0]}
		},
	})
	switch {
	case ruleNode == nil:
		w.errf(n, path, "trigger needs rule (and matches)")
		return nil
	case !hasMatches:
		w.errf(n, path, "trigger needs matches (a count from 1)")
		return nil
	case !good:
		return nil
	}
	return t
}

func (w *walker) schedule(n *yaml.Node, path string) {
	ss := ScheduleSpec{Pos: w.pos(n, path)}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) { w.name(v, p, "schedule", &ss.Name, &ss.NameAt) },
		"port": func(v *yaml.Node, p string) {
			ss.PortAt = w.pos(v, p)
			if s, ok := w.scalar(v, p); ok {
				if _, isGroup := w.scope.groups[s]; isGroup {
					w.errf(v, p, "a schedule moves one port, not group %s", quote(s))
					return
				}
				if _, err := w.scope.expand(s); err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				ss.Port = s
			}
		},
		"at": func(v *yaml.Node, p string) {
			if d, ok := w.duration(v, p); ok {
				ss.At = &d
			}
		},
		// "For good" and "once" are written by leaving down_for and
		// every out; an explicit 0 is refused, as a partition's duration is.
		"down_for": func(v *yaml.Node, p string) { ss.DownFor, _ = w.parsed(v, p, parseHold) },
		"every":    func(v *yaml.Node, p string) { ss.Every, _ = w.parsed(v, p, parseHold) },
		"count":    func(v *yaml.Node, p string) { ss.Count, _ = w.integer(v, p, 1, 1<<40) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	w.spec.Schedules = append(w.spec.Schedules, ss)
}

// name reads a partition's or schedule's name (kind says which) into
// *name, and where it was written into *at: set even when the name is
// refused, so that Compile knows the front end has said why.
func (w *walker) name(v *yaml.Node, p, kind string, name *string, at *Pos) {
	*at = w.pos(v, p)
	if s, ok := w.scalar(v, p); ok {
		if !validName(s) {
			w.errf(v, p, "%s is not a valid %s name", quote(s), kind)
			return
		}
		*name = s
	}
}
