package filter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads and compiles the policy file at path. ports are the hub's port
// names; a policy naming any other port is refused (nil skips the check, for
// replay of a capture whose ports are not known up front). On error the
// result is an ErrorList naming file, line, column and field.
func Load(path string, ports []string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return Parse(data, path, ports)
}

// Parse compiles a YAML policy. name is used in error messages (the file
// name). Every problem found is reported; nothing is returned half-built.
func Parse(data []byte, name string, ports []string) (*Policy, error) {
	w := &walker{file: name, p: newPolicy(name, ports)}
	if len(data) > maxPolicyBytes {
		w.errs = append(w.errs, &FieldError{File: name, Msg: fmt.Sprintf("policy is larger than %d bytes", maxPolicyBytes)})
		return nil, w.errs
	}
	doc, err := decodeYAML(data)
	if err != nil {
		w.errs = append(w.errs, yamlError(name, err))
		return nil, w.errs
	}
	if doc != nil {
		w.document(doc)
	}
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	w.p.text = string(data)
	return w.p, nil
}

// decodeYAML parses exactly one YAML document into a node tree (nil for an
// empty file). The YAML library is not ours: a panic in it on hostile input
// becomes an error.
func decodeYAML(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: a policy is one YAML document; found a second", extra.Line)
	}
	return &n, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Msg: "syntax: " + m[2]}
	}
	return &FieldError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// walker turns a YAML node tree into a Policy, recording every problem with
// its position and field path.
type walker struct {
	file string
	p    *Policy
	errs ErrorList
}

func (w *walker) errf(n *yaml.Node, path, format string, args ...any) {
	if len(w.errs) == maxErrors {
		w.errs = append(w.errs, &FieldError{File: w.file, Msg: "too many errors; stopping"})
	}
	if len(w.errs) > maxErrors {
		return
	}
	e := &FieldError{File: w.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	w.errs = append(w.errs, e)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a scalar"
	}
	return "a document"
}

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
	if n.Kind != yaml.MappingNode {
		w.errf(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			w.errf(k, path, "keys must be plain names")
			continue
		}
		h, ok := handlers[k.Value]
		if !ok {
			w.errf(k, path, "unknown key %q (want one of %s)", k.Value, strings.Join(sortedKeys(handlers), ", "))
			continue
		}
		if seen[k.Value] {
			w.errf(k, kp, "key given twice")
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			w.errf(v, kp, "YAML aliases are not supported in a policy")
			continue
		}
		h(v, kp)
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) document(doc *yaml.Node) {
	root := doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return
		}
		root = doc.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return
	}
	if bad, at := checkTree(root, 0); bad != "" {
		w.errf(at, "", "%s", bad)
		return
	}
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
				w.errf(seed, "seed", "%q is not an unsigned 64-bit integer", s)
			}
			w.p.seed = v
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

// checkTree refuses aliases (a policy has no use for them, and they make a
// small file expand) and nesting deeper than any policy needs.
func checkTree(n *yaml.Node, depth int) (string, *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		return "YAML aliases are not supported in a policy", n
	case depth > 16:
		return "nested deeper than a policy can be", n
	}
	for _, c := range n.Content {
		if bad, at := checkTree(c, depth+1); bad != "" {
			return bad, at
		}
	}
	return "", nil
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
	if n.Kind != yaml.MappingNode {
		w.errf(n, "groups", "want a mapping of group name to ports, got %s", kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := joinPath("groups", k.Value)
		name := k.Value
		switch {
		case !validName(name):
			w.errf(k, path, "%q is not a valid group name", name)
			continue
		case w.p.ports[name]:
			w.errf(k, path, "group %q has the name of a port", name)
			continue
		case w.p.groups[name] != nil:
			w.errf(k, path, "group %q defined twice", name)
			continue
		}
		items, ok := w.items(v, path)
		if !ok {
			continue
		}
		var ports []string
		for _, it := range items {
			s, ok := w.scalar(it, path)
			if !ok {
				continue
			}
			if _, isGroup := w.p.groups[s]; isGroup {
				w.errf(it, path, "groups cannot contain groups (%q)", s)
				continue
			}
			got, err := w.p.expand(s)
			if err != nil {
				w.errf(it, path, "%v", err)
				continue
			}
			ports = append(ports, got...)
		}
		if ports != nil {
			w.p.groups[name] = ports
		}
	}
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
	s, ok := w.scalar(n, path)
	if !ok {
		return 0, false
	}
	v, err := parseDuration(s)
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
		w.errf(n, path, "%q is not an integer", s)
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
	if v < lo || v > hi {
		w.errf(n, path, "%d bytes is outside [%d,%d]", v, lo, hi)
		return 0, false
	}
	return v, true
}

func (w *walker) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	w.errf(n, path, "%q is not true or false", s)
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
	w.errf(n, path, "%q is not one of %s", s, strings.Join(words, ", "))
	return 0, false
}

func (w *walker) rule(n *yaml.Node, path string) {
	r := newRule("", 0)
	var nameNode *yaml.Node
	var desc []string
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, p string) {
			nameNode = v
			r.name, _ = w.scalar(v, p)
		},
		"match": func(v *yaml.Node, p string) { desc = w.match(r, v, p) },
		"drop": func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok && !b {
				w.errf(v, p, "drop: false does nothing; remove it")
			}
			r.drop = true
		},
		"loss":      func(v *yaml.Node, p string) { w.loss(r, v, p) },
		"delay":     func(v *yaml.Node, p string) { w.delay(r, v, p) },
		"reorder":   func(v *yaml.Node, p string) { w.reorder(r, v, p) },
		"duplicate": func(v *yaml.Node, p string) { w.duplicate(r, v, p) },
		"corrupt":   func(v *yaml.Node, p string) { w.corrupt(r, v, p) },
		"rate":      func(v *yaml.Node, p string) { w.rate(r, v, p) },
		"mtu": func(v *yaml.Node, p string) {
			if m, ok := w.size(v, p, 68, 65535); ok {
				r.mtu = int(m)
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
	if err := r.finish(); err != nil {
		w.errf(n, path, "%v", err)
	}
	r.matchDesc = strings.Join(desc, " ")
	if r.name == "" {
		return
	}
	if err := w.p.addRule(r); err != nil {
		w.errf(nameNode, joinPath(path, "name"), "%v", err)
	}
}
