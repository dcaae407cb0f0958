package filter

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
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

// match fills r's matcher and returns its description.
func (w *walker) match(r *rule, n *yaml.Node, path string) []string {
	m := &r.m
	var desc []string
	add := func(key string, vals ...string) {
		desc = append(desc, key+"="+strings.Join(vals, ","))
	}
	// each runs parse on every entry of a value-or-list.
	each := func(v *yaml.Node, p string, parse func(s string) error) []string {
		items, ok := w.items(v, p)
		if !ok {
			return nil
		}
		var vals []string
		for _, it := range items {
			s, ok := w.scalar(it, p)
			if !ok {
				continue
			}
			if err := parse(s); err != nil {
				w.errf(it, p, "%v", err)
				continue
			}
			vals = append(vals, s)
		}
		return vals
	}
	portSet := func(key string, dst *map[string]bool) func(v *yaml.Node, p string) {
		return func(v *yaml.Node, p string) {
			set := map[string]bool{}
			vals := each(v, p, func(s string) error {
				ports, err := w.p.expand(s)
				for _, x := range ports {
					set[x] = true
				}
				return err
			})
			*dst = set
			add(key, vals...)
		}
	}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"from": portSet("from", &m.from),
		"to":   portSet("to", &m.to),
		"link": func(v *yaml.Node, p string) {
			m.links = map[[2]string]bool{}
			add("link", each(v, p, func(s string) error {
				ls, err := w.p.parseLink(s)
				m.addLinks(ls.pairs())
				return err
			})...)
		},
		"ethertype": func(v *yaml.Node, p string) {
			m.needParse = true
			m.etherType = []uint16{}
			add("ethertype", each(v, p, func(s string) error {
				t, err := parseEtherType(s)
				m.etherType = append(m.etherType, t)
				return err
			})...)
		},
		"src_mac": func(v *yaml.Node, p string) { w.mac(&m.srcMAC, v, p, add, "src_mac") },
		"dst_mac": func(v *yaml.Node, p string) { w.mac(&m.dstMAC, v, p, add, "dst_mac") },
		"broadcast": func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok {
				m.broadcast = triNo
				if b {
					m.broadcast = triYes
				}
				add("broadcast", strconv.FormatBool(b))
			}
		},
		"multicast": func(v *yaml.Node, p string) {
			if b, ok := w.boolean(v, p); ok {
				m.multicast = triNo
				if b {
					m.multicast = triYes
				}
				add("multicast", strconv.FormatBool(b))
			}
		},
		"src_ip": func(v *yaml.Node, p string) { w.prefixes(&m.srcIP, v, p, each, add, "src_ip"); m.needParse = true },
		"dst_ip": func(v *yaml.Node, p string) { w.prefixes(&m.dstIP, v, p, each, add, "dst_ip"); m.needParse = true },
		"protocol": func(v *yaml.Node, p string) {
			m.needParse = true
			m.proto = []uint8{}
			add("protocol", each(v, p, func(s string) error {
				x, err := parseProtocol(s)
				m.proto = append(m.proto, x)
				return err
			})...)
		},
		"src_port": func(v *yaml.Node, p string) { w.portRange(&m.srcPort, v, p, add, "src_port"); m.needParse = true },
		"dst_port": func(v *yaml.Node, p string) { w.portRange(&m.dstPort, v, p, add, "dst_port"); m.needParse = true },
		"tcp_flags": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				mask, value, err := parseTCPFlags(s)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.tcpMask, m.tcpValue, m.needParse = mask, value, true
				add("tcp_flags", strconv.Quote(s))
			}
		},
		"payload": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				w.payload(m, []byte(s), v, p)
				add("payload", strconv.Quote(s))
			}
		},
		"payload_hex": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(s))
				if err != nil {
					w.errf(v, p, "%q is not hex bytes (write 4e585342 or \"4e 58 53 42\")", s)
					return
				}
				w.payload(m, b, v, p)
				add("payload_hex", hex.EncodeToString(b))
			}
		},
		"length": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseSize)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.minLen, m.maxLen = int(lo), int(hi)
				add("length", s)
			}
		},
		"first": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				r.win.first = x
				add("first", strconv.FormatInt(x, 10))
			}
		},
		"matches": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				lo, hi, err := parseIntRange(s, parseCount)
				if err == nil && lo < 1 {
					err = fmt.Errorf("matches are counted from 1; %q starts at %d", s, lo)
				}
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				r.win.lo, r.win.hi = lo, hi
				add("matches", s)
			}
		},
		"every": func(v *yaml.Node, p string) {
			if x, ok := w.integer(v, p, 1, 1<<62); ok {
				r.win.every = x
				add("every", strconv.FormatInt(x, 10))
			}
		},
		"during": func(v *yaml.Node, p string) {
			if s, ok := w.scalar(v, p); ok {
				from, to, err := parseTimeRange(s)
				if err != nil {
					w.errf(v, p, "%v", err)
					return
				}
				m.during, m.from0, m.to0 = true, from, to
				add("during", s)
			}
		},
	})
	return desc
}

func (w *walker) mac(dst **[6]byte, v *yaml.Node, p string, add func(string, ...string), key string) {
	s, ok := w.scalar(v, p)
	if !ok {
		return
	}
	mac, err := parseMAC(s)
	if err != nil {
		w.errf(v, p, "%v", err)
		return
	}
	*dst = &mac
	add(key, s)
}

func (w *walker) prefixes(dst *[]netip.Prefix, v *yaml.Node, p string, each func(*yaml.Node, string, func(string) error) []string, add func(string, ...string), key string) {
	*dst = []netip.Prefix{}
	add(key, each(v, p, func(s string) error {
		pf, err := parsePrefix(s)
		*dst = append(*dst, pf)
		return err
	})...)
}

func (w *walker) portRange(dst *portRange, v *yaml.Node, p string, add func(string, ...string), key string) {
	s, ok := w.scalar(v, p)
	if !ok {
		return
	}
	lo, hi, err := parseIntRange(s, parsePort)
	if err != nil {
		w.errf(v, p, "%v", err)
		return
	}
	if hi < 0 {
		hi = 65535
	}
	*dst = portRange{set: true, lo: uint16(lo), hi: uint16(hi)}
	add(key, s)
}

func (w *walker) payload(m *matcher, b []byte, v *yaml.Node, p string) {
	if m.payload != nil {
		w.errf(v, p, "give payload or payload_hex, not both")
		return
	}
	if len(b) == 0 || len(b) > maxPayloadLen {
		w.errf(v, p, "payload prefix must be 1-%d bytes, got %d", maxPayloadLen, len(b))
		return
	}
	m.payload, m.needParse = b, true
}

// loss: 5% | {probability: 5%} | {gemodel: {p, r, 1-h, 1-k}}
func (w *walker) loss(r *rule, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			r.loss = lossCfg{model: lossRandom, p: p}
		}
		return
	}
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) {
			if r.loss.model != lossNone {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			if x, ok := w.probability(v, p); ok {
				r.loss = lossCfg{model: lossRandom, p: x}
			}
		},
		"gemodel": func(v *yaml.Node, p string) {
			if r.loss.model != lossNone {
				w.errf(v, p, "give probability or gemodel, not both")
				return
			}
			ge := lossCfg{model: lossGE, r: -1, bad: 1, good: 0}
			hasP := false
			w.fields(v, p, map[string]func(*yaml.Node, string){
				"p": func(v *yaml.Node, p string) {
					ge.p, hasP = w.probability(v, p)
				},
				"r": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.r = x
					}
				},
				"1-h": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.bad = x
					}
				},
				"1-k": func(v *yaml.Node, p string) {
					if x, ok := w.probability(v, p); ok {
						ge.good = x
					}
				},
			})
			if v.Kind != yaml.MappingNode {
				return
			}
			if !hasP {
				w.errf(v, p, "gemodel needs p (good->bad transition probability)")
				return
			}
			if ge.r < 0 {
				ge.r = 1 - ge.p // netem's default
			}
			r.loss = ge
		},
	})
	if n.Kind == yaml.MappingNode && r.loss.model == lossNone && len(n.Content) == 0 {
		w.errf(n, path, "loss needs probability or gemodel")
	}
}

// delay: 20ms | 20ms±5ms | {fixed, jitter, distribution, order}
func (w *walker) delay(r *rule, n *yaml.Node, path string) {
	dc := &delayCfg{}
	if n.Kind == yaml.ScalarNode {
		s, ok := w.scalar(n, path)
		if !ok {
			return
		}
		f, j, err := parseDelay(s)
		if err != nil {
			w.errf(n, path, "%v", err)
			return
		}
		dc.fixed, dc.jitter = f, j
		r.delay = dc
		return
	}
	ok := true
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"fixed": func(v *yaml.Node, p string) {
			var good bool
			dc.fixed, good = w.duration(v, p)
			ok = ok && good
		},
		"jitter": func(v *yaml.Node, p string) {
			var good bool
			dc.jitter, good = w.duration(v, p)
			ok = ok && good
		},
		"distribution": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "uniform", "normal")
			dc.normal, ok = i == 1, ok && good
		},
		"order": func(v *yaml.Node, p string) {
			i, good := w.choice(v, p, "fifo", "reorder")
			dc.reorder, ok = i == 1, ok && good
		},
	})
	if ok && n.Kind == yaml.MappingNode {
		r.delay = dc
	}
}

// reorder: 25% | {probability, gap}
func (w *walker) reorder(r *rule, n *yaml.Node, path string) {
	ro := &reorderCfg{gap: 1}
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			ro.p = p
			r.reorder = ro
		}
		return
	}
	hasP := false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) { ro.p, hasP = w.probability(v, p) },
		"gap": func(v *yaml.Node, p string) {
			if g, ok := w.integer(v, p, 1, maxGap); ok {
				ro.gap = g
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if !hasP {
			w.errf(n, path, "reorder needs probability")
			return
		}
		r.reorder = ro
	}
}

// duplicate: 1% | {probability, copies}
func (w *walker) duplicate(r *rule, n *yaml.Node, path string) {
	dc := &dupCfg{copies: 1}
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			dc.p = p
			r.dup = dc
		}
		return
	}
	hasP := false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) { dc.p, hasP = w.probability(v, p) },
		"copies": func(v *yaml.Node, p string) {
			if c, ok := w.integer(v, p, 1, maxCopies-1); ok {
				dc.copies = int(c)
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if !hasP {
			w.errf(n, path, "duplicate needs probability")
			return
		}
		r.dup = dc
	}
}

// corrupt: 1% | {probability, bits, skip}
func (w *walker) corrupt(r *rule, n *yaml.Node, path string) {
	cc := &corruptCfg{bits: 1}
	if n.Kind == yaml.ScalarNode {
		if p, ok := w.probability(n, path); ok {
			cc.p = p
			r.corrupt = cc
		}
		return
	}
	hasP := false
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"probability": func(v *yaml.Node, p string) { cc.p, hasP = w.probability(v, p) },
		"bits": func(v *yaml.Node, p string) {
			if b, ok := w.integer(v, p, 1, maxCorruptBits); ok {
				cc.bits = int(b)
			}
		},
		"skip": func(v *yaml.Node, p string) {
			if i, ok := w.choice(v, p, skipNames[:]...); ok {
				cc.skip = skipLevel(i)
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if !hasP {
			w.errf(n, path, "corrupt needs probability")
			return
		}
		r.corrupt = cc
	}
}

// rate: 10Mbit | {rate, burst, queue}
func (w *walker) rate(r *rule, n *yaml.Node, path string) {
	readRate := func(v *yaml.Node, p string) (uint64, bool) {
		s, ok := w.scalar(v, p)
		if !ok {
			return 0, false
		}
		bps, err := parseRate(s)
		if err != nil {
			w.errf(v, p, "%v", err)
			return 0, false
		}
		return bps, true
	}
	if n.Kind == yaml.ScalarNode {
		if bps, ok := readRate(n, path); ok {
			r.setRate(bps, defaultBurst, defaultQueue)
		}
		return
	}
	var bps uint64
	burst, queue := int64(defaultBurst), int64(defaultQueue)
	hasRate, ok := false, true
	w.fields(n, path, map[string]func(*yaml.Node, string){
		"rate": func(v *yaml.Node, p string) { bps, hasRate = readRate(v, p) },
		"burst": func(v *yaml.Node, p string) {
			var good bool
			burst, good = w.size(v, p, 64, maxRateBytes)
			ok = ok && good
		},
		"queue": func(v *yaml.Node, p string) {
			var good bool
			queue, good = w.size(v, p, 0, maxRateBytes)
			ok = ok && good
		},
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if !hasRate {
		w.errf(n, path, "rate needs rate (e.g. 10Mbit)")
		return
	}
	if ok {
		r.setRate(bps, burst, queue)
	}
}

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
