package filter

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/internal/yamlfile"
)

// LoadSpec reads the policy file at path into its Spec (see ParseSpec).
func LoadSpec(path string, ports []string) (*Spec, error) {
	data, err := ReadPolicy(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(data, path, ports)
}

// ReadPolicy reads a policy file as Load does, bounded: one larger than a
// policy can be is read only far enough to say so (Parse refuses it). A
// file that defines nothing (DefinesNothing) is refused, as the control
// API refuses it: it is likelier a file cut short or saved wrong than a
// policy, and would run without a fault unnoticed. A policy of no faults
// says so: "rules: []".
func ReadPolicy(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if len(data) <= maxPolicyBytes && DefinesNothing(data) {
		return nil, fmt.Errorf("policy %s is empty: it sets no seed, groups, rules, partitions or schedules "+
			"(for a policy of no faults, give one that says so: \"rules: []\")", path)
	}
	return data, nil
}

// DefinesNothing reports whether a policy's text defines nothing: blank
// lines and comments only, null, or {}. Text that is not YAML defines
// something, for Parse to refuse with its position.
func DefinesNothing(data []byte) bool {
	root, err := yamlfile.Decode("", data, "policy")
	return err == nil && (root == nil || root.Kind == yaml.MappingNode && len(root.Content) == 0)
}

// Load reads and compiles the policy file at path. ports are the hub's port
// names; a policy naming any other port is refused (nil skips the check, for
// replay of a capture whose ports are not known up front). On error the
// result is an ErrorList naming file, line, column and field.
func Load(path string, ports []string) (*Policy, error) {
	data, err := ReadPolicy(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path, ports)
}

// Parse compiles a YAML policy. name is used in error messages (the file
// name). Every problem found is reported; nothing is returned half-built.
func Parse(data []byte, name string, ports []string) (*Policy, error) {
	spec, errs := parseSpec(data, name, ports)
	var p *Policy
	if spec != nil {
		p = compile(spec, ports, errs)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// ParseSpec reads a YAML policy into its Spec, checking every value and
// name (against ports; nil skips the check) but nothing Compile checks.
// On error the result is an ErrorList naming file, line, column and field.
func ParseSpec(data []byte, name string, ports []string) (*Spec, error) {
	spec, errs := parseSpec(data, name, ports)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return spec, nil
}

// parseSpec is the policy file's front end: a nil Spec when the file is no
// policy at all, else the spec of whatever could be read, with errs
// holding every problem met on the way.
func parseSpec(data []byte, name string, ports []string) (*Spec, *yamlfile.Errors) {
	errs := newErrors(name)
	if len(data) > maxPolicyBytes {
		errs.Add(&FieldError{File: name, Msg: fmt.Sprintf("policy is larger than %d bytes", maxPolicyBytes)})
		return nil, errs
	}
	w := &walker{file: name, scope: newScope(ports), errs: errs, spec: &Spec{Name: name, Text: string(data)}}
	root, derr := yamlfile.Decode(name, data, "policy")
	if derr == nil && root != nil {
		derr = yamlfile.CheckTree(name, root, "policy", 16)
	} else if derr != nil && derr.Line > 0 && derr.Column == 0 {
		derr.Msg = "syntax: " + derr.Msg // the YAML library's own
	}
	if derr != nil {
		errs.Add(derr)
		return nil, errs
	}
	if root != nil {
		w.document(root)
	}
	w.spec.Groups = w.scope.groups
	return w.spec, errs
}

// walker turns a YAML node tree into a Spec, recording every problem with
// its position and field path. Names resolve in its scope: the ports, and
// the groups the file defines.
type walker struct {
	file  string
	scope scope
	errs  *yamlfile.Errors
	spec  *Spec
}

func (w *walker) errf(n *yaml.Node, path, format string, args ...any) {
	w.errs.At(n, path, format, args...)
}

// pos is where n is, for errors Compile finds.
func (w *walker) pos(n *yaml.Node, path string) Pos {
	return Pos{File: w.file, Line: n.Line, Column: n.Column, Path: path}
}

func kindName(n *yaml.Node) string { return yamlfile.KindName(n) }

// scalar returns the text of a scalar node.
func (w *walker) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		w.errf(n, path, "want a value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// items returns a list's entries, or the node itself for a single scalar.
func (w *walker) items(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	switch {
	case n.Kind == yaml.SequenceNode:
		if len(n.Content) == 0 {
			w.errf(n, path, "empty list")
			return nil, false
		}
		if len(n.Content) > maxListLen {
			w.errf(n, path, "more than %d entries", maxListLen)
			return nil, false
		}
		return n.Content, true
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		return []*yaml.Node{n}, true
	}
	w.errf(n, path, "want a value or a list, got %s", kindName(n))
	return nil, false
}

// fields walks a mapping: every key must be one of handlers' and appear
// once. Handlers run in key order.
func (w *walker) fields(n *yaml.Node, path string, handlers map[string]func(v *yaml.Node, path string)) {
	w.errs.Fields(n, path, sortedKeys(handlers), func(key string, v *yaml.Node, kp string) {
		handlers[key](v, kp)
	})
}

func (w *walker) document(root *yaml.Node) {
	// Keys are collected first and handled in a fixed order, so rules may
	// name groups and partitions may name rules wherever they are written.
	var seed, groups, rules, partitions, schedules *yaml.Node
	slot := func(dst **yaml.Node) func(v *yaml.Node, path string) {
		return func(v *yaml.Node, _ string) { *dst = v }
	}
	w.fields(root, "", map[string]func(*yaml.Node, string){
		"seed": slot(&seed), "groups": slot(&groups), "rules": slot(&rules),
		"partitions": slot(&partitions), "schedules": slot(&schedules),
	})
	if seed != nil {
		if s, ok := w.scalar(seed, "seed"); ok {
			v, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				w.errf(seed, "seed", "%s is not an unsigned 64-bit integer", quote(s))
			}
			w.spec.Seed = v
		}
	}
	if groups != nil {
		w.groups(groups)
	}
	if rules != nil {
		if rules.Kind == yaml.SequenceNode && len(rules.Content) > maxRules {
			w.errf(rules, "rules", "more than %d rules", maxRules)
		} else {
			w.list(rules, "rules", w.rule)
		}
	}
	if partitions != nil {
		w.list(partitions, "partitions", w.partition)
	}
	if schedules != nil {
		if schedules.Kind == yaml.SequenceNode && len(schedules.Content) > maxSchedules {
			w.errf(schedules, "schedules", "more than %d schedules", maxSchedules)
		} else {
			w.list(schedules, "schedules", w.schedule)
		}
	}
}

func (w *walker) list(n *yaml.Node, path string, each func(n *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		w.errf(n, path, "want a list, got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		each(item, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (w *walker) groups(n *yaml.Node) {
	w.errs.Entries(n, "groups", "a mapping of group name to ports", func(k, v *yaml.Node, path string) {
		name := k.Value
		switch {
		case !validName(name):
			w.errf(k, path, "%s is not a valid group name", quote(name))
			return
		case w.scope.ports[name]:
			w.errf(k, path, "group %s has the name of a port", quote(name))
			return
		}
		items, ok := w.items(v, path)
		if !ok {
			return
		}
		var ports []string
		first := map[string]*yaml.Node{}
		for _, it := range items {
			s, ok := w.scalar(it, path)
			if !ok {
				continue
			}
			// A port listed twice adds nothing, and would otherwise
			// surface only where a partition uses the group, as a port in
			// more than one group.
			if at, twice := first[s]; twice {
				w.errf(it, path, "%s is listed twice (first at line %d, column %d)", quote(s), at.Line, at.Column)
				continue
			}
			first[s] = it
			if _, isGroup := w.scope.groups[s]; isGroup {
				w.errf(it, path, "groups cannot contain groups (%s)", quote(s))
				continue
			}
			got, err := w.scope.expand(s)
			if err != nil {
				w.errf(it, path, "%v", err)
				continue
			}
			ports = append(ports, got...)
		}
		if ports != nil {
			w.scope.groups[name] = ports
		}
	})
}

// probability reads a probability scalar.
func (w *walker) probability(n *yaml.Node, path string) (float64, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := parseProbability(s)
	if err != nil {
		w.errf(n, path, "%v", err)
		return 0, false
	}
	return v, true
}

func (w *walker) duration(n *yaml.Node, path string) (time.Duration, bool) {
	return w.parsed(n, path, parseDuration)
}

// parsed reads a scalar with parse, the parser the flags use too.
func (w *walker) parsed(n *yaml.Node, path string, parse func(string) (time.Duration, error)) (time.Duration, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := parse(s)
	if err != nil {
		w.errf(n, path, "%v", err)
		return 0, false
	}
	return v, true
}

// integer reads an integer in [lo, hi].
func (w *walker) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		w.errf(n, path, "%s is not an integer", quote(s))
		return 0, false
	}
	if v < lo || v > hi {
		w.errf(n, path, "%d is outside [%d,%d]", v, lo, hi)
		return 0, false
	}
	return v, true
}

func (w *walker) size(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := parseSize(s)
	if err != nil {
		w.errf(n, path, "%v", err)
		return 0, false
	}
	if err := checkSize(v, lo, hi); err != nil {
		w.errf(n, path, "%v", err)
		return 0, false
	}
	return v, true
}

func (w *walker) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return false, false
	}
	switch s { // YAML's spellings
	case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	w.errf(n, path, "%s is not true or false", quote(s))
	return false, false
}

// choice reads one of a fixed set of words.
func (w *walker) choice(n *yaml.Node, path string, words ...string) (int, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	for i, x := range words {
		if s == x {
			return i, true
		}
	}
	w.errf(n, path, "%s is not one of %s", quote(s), strings.Join(words, ", "))
	return 0, false
}

func (w *walker) rule(n *yaml.Node, path string) {
	rs := RuleSpec{At: w.pos(n, path)}
	var nameNode *yaml.Node
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) {
			nameNode = v
			rs.NameAt = w.pos(v, p)
			if s, ok := w.scalar(v, p); ok {
				if err := ruleNameError(s); err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				rs.Name = s
			}
		},
		"match": func(v *yaml.Node, p string) { w.match(&rs.Match, v, p) },
		"drop": func(v *yaml.Node, p string) {
			// The rule drops only when the file says true: a refused
			// value must not compile to a rule that drops all it matches.
			b, ok := w.boolean(v, p)
			if ok && !b {
				w.errf(v, p, "drop: false does nothing; remove it")
			}
			rs.Drop = ok && b
		},
		"loss": func(v *yaml.Node, p string) { rs.Loss = w.loss(v, p) },
		"delay": func(v *yaml.Node, p string) {
			rs.Delay = w.delay(v, p)
			rs.delayRefused = rs.Delay == nil
		},
		"reorder":   func(v *yaml.Node, p string) { rs.Reorder = w.reorder(v, p) },
		"duplicate": func(v *yaml.Node, p string) { rs.Duplicate = w.duplicate(v, p) },
		"corrupt":   func(v *yaml.Node, p string) { rs.Corrupt = w.corrupt(v, p) },
		"rate":      func(v *yaml.Node, p string) { rs.Rate = w.rate(v, p) },
		"mtu": func(v *yaml.Node, p string) {
			if m, ok := w.size(v, p, minMTU, maxMTU); ok {
				rs.MTU = int(m)
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if nameNode == nil {
		w.errf(n, path, "rule has no name")
		return
	}
	w.spec.Rules = append(w.spec.Rules, rs)
}
