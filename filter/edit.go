package filter

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"l2hub/internal/yamlfile"
)

// Editing one rule of a running policy. A whole policy is replaced, never
// edited, when its file changes (Parse, then swap); these edits change one
// rule and leave everything else as it is: the other rules with their
// counters, random streams and windows, the partitions and their triggers,
// the links' state.
//
// An added rule, and an updated one, starts afresh on every link, as if the
// policy had been loaded with it: its random stream on a link starts again
// from (seed, link, rule name) (the README's D1), and its window counts
// (first, matches, every), delay order, rate bucket and Gilbert-Elliott
// state start from nothing. So after an edit, the k-th frame the rule sees
// on a link gets the decision the k-th frame would get from a hub that had
// started with the policy as edited. An updated rule keeps its counters (its
// matches and actions go on adding up) and the partition triggers that
// count its matches.

// MaxRuleBytes bounds the text of one rule (ParseRule); a rule is a line
// or a few.
const MaxRuleBytes = 64 << 10

// ParseRule reads one rule written as a policy file writes a rule: a
// mapping of name, match and impairments (or a list of that one mapping,
// as pasted from a file's rules). Every value is checked, and every port
// and group name against the policy's. name is the rule's name: the text
// may leave it out, or give the same. file names the text in errors, which
// are an ErrorList naming file:line:col and field ("rule.yaml:1:22: loss:
// ..."). ParseRule reads only what a policy never changes (its ports and
// groups), so it may run on any goroutine.
func (p *Policy) ParseRule(data []byte, file, name string) (*RuleSpec, error) {
	errs := newErrors(file)
	if len(data) > MaxRuleBytes {
		errs.Add(&FieldError{File: file, Msg: fmt.Sprintf("a rule is at most %d bytes", MaxRuleBytes), Kind: ErrInvalid})
		return nil, errs.Err()
	}
	root, derr := yamlfile.Decode(file, data, "rule")
	if derr == nil && root != nil {
		derr = yamlfile.CheckTree(file, root, "rule", 16)
	} else if derr != nil && derr.Line > 0 && derr.Column == 0 {
		derr.Msg = "syntax: " + derr.Msg
	}
	if derr != nil {
		errs.Add(derr)
		return nil, errs.Err()
	}
	if root == nil {
		errs.Add(&FieldError{File: file, Msg: "empty: give one rule, e.g. {match: {link: a->b}, loss: 5%}", Kind: ErrInvalid})
		return nil, errs.Err()
	}
	if root.Kind == yaml.SequenceNode {
		if len(root.Content) != 1 {
			errs.At(root, "", "want one rule, got a list of %d", len(root.Content))
			return nil, errs.Err()
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		got := kindName(root)
		if root.Kind == yaml.ScalarNode {
			got = quote(root.Value)
		}
		errs.At(root, "", "want one rule (a mapping of name, match and impairments), got %s", got)
		return nil, errs.Err()
	}
	if name != "" {
		given := false
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k, v := root.Content[i], root.Content[i+1]; k.Value == "name" {
				given = true
				if v.Kind == yaml.ScalarNode && v.Value != name {
					errs.At(v, "name", "%s, but the rule to change is %s (leave the name out, or give the same)", quote(v.Value), quote(name))
				}
			}
		}
		if !given {
			root.Content = append(root.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name", Line: root.Line, Column: root.Column},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: root.Line, Column: root.Column})
		}
	}
	w := &walker{file: file, scope: p.scope, errs: errs, spec: &Spec{Name: file, Text: string(data)}}
	w.rule(root, "")
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &w.spec.Rules[0], nil
}

// ruleIndex returns the index of the named rule, or an ErrUnknownRule
// error listing the rules there are.
func (p *Policy) ruleIndex(name string) (int, error) {
	if i := slices.IndexFunc(p.rules, func(r *rule) bool { return r.name == name }); i >= 0 {
		return i, nil
	}
	names := make([]string, len(p.rules))
	for i, r := range p.rules {
		names[i] = r.name
	}
	there := "the policy has none"
	if len(names) > 0 {
		there = "rules: " + strings.Join(names, ", ")
	}
	return -1, fmt.Errorf("rule %s: %w (%s)", quote(name), ErrUnknownRule, there)
}

// build compiles rs into a rule for an edit, checking its name.
func (p *Policy) build(rs *RuleSpec) (*rule, error) {
	errs := newErrors(rs.At.File)
	r := p.buildRule(rs, errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := ruleNameError(r.name); err != nil {
		return nil, rs.NameAt.errorf("%v", err)
	}
	return r, nil
}

// AddRule compiles rs and adds it after the other rules, or just before
// the rule named before: rules run in order, and a frame a rule drops goes
// no further. A name the policy has is refused (ErrRuleExists). See the
// top of this file for what the new rule starts with. Call it on the hub
// loop; it returns the rule as Describe shows it.
func (p *Policy) AddRule(rs *RuleSpec, before string) (RuleDescription, error) {
	r, err := p.build(rs)
	if err != nil {
		return RuleDescription{}, err
	}
	if p.byName[r.name] != nil {
		return RuleDescription{}, fmt.Errorf("rule %s: %w (update it, or remove it first)", quote(r.name), ErrRuleExists)
	}
	if len(p.rules) >= maxRules {
		return RuleDescription{}, fmt.Errorf("rule %s: the policy has %d rules, the most it may have", quote(r.name), maxRules)
	}
	at := len(p.rules)
	if before != "" {
		if at, err = p.ruleIndex(before); err != nil {
			return RuleDescription{}, fmt.Errorf("add rule %s before %w", quote(r.name), err)
		}
	}
	p.mu.Lock()
	p.rules = slices.Insert(p.rules, at, r)
	p.reindex()
	p.mu.Unlock()
	p.byName[r.name] = r
	for _, ls := range p.links {
		ls.rules = slices.Insert(ls.rules, at, p.ruleLink(r, ls.from, ls.to))
	}
	return r.describe(), nil
}

// UpdateRule replaces the rule named rs.Name with rs, in its place, keeping
// its counters and the partition triggers that count its matches. An
// update with which such a trigger could never fire is refused, as the
// policy would be (a rule that never matches on the trigger's link, an end
// trigger's links all cut by its partition). See the top of this file for
// what it starts with. Call it on the hub loop; it returns the rule as
// Describe shows it.
func (p *Policy) UpdateRule(rs *RuleSpec) (RuleDescription, error) {
	at, err := p.ruleIndex(rs.Name)
	if err != nil {
		return RuleDescription{}, err
	}
	r, err := p.build(rs)
	if err != nil {
		return RuleDescription{}, err
	}
	old := p.rules[at]
	for _, t := range old.triggers {
		var link *[2]string
		if t.hasLink {
			link = &t.link
		}
		if problem, _ := p.triggerProblem(r, link, !t.start, t.part.groups, t.part.fixedEnd); problem != "" {
			kind := "end"
			if t.start {
				kind = "start"
			}
			return RuleDescription{}, rs.At.errorf("the %s trigger of partition %s counts this rule's matches and could not fire after the update: %s (set-policy changes both)", kind, t.part.name, problem)
		}
	}
	r.triggers = old.triggers
	for _, c := range [...]struct{ to, from *atomic.Uint64 }{
		{&r.c.matched, &old.c.matched}, {&r.c.dropped, &old.c.dropped}, {&r.c.delayed, &old.c.delayed},
		{&r.c.duplicated, &old.c.duplicated}, {&r.c.corrupted, &old.c.corrupted}, {&r.c.queued, &old.c.queued},
		{&r.c.overflowed, &old.c.overflowed},
	} {
		c.to.Store(c.from.Load())
	}
	p.mu.Lock()
	p.rules[at] = r
	p.reindex()
	p.mu.Unlock()
	p.byName[r.name] = r
	for _, ls := range p.links {
		ls.rules[at] = p.ruleLink(r, ls.from, ls.to)
	}
	return r.describe(), nil
}

// RemoveRule removes the named rule. A rule whose matches start or end a
// partition is refused: remove or replace the partition with the policy.
// Call it on the hub loop; it returns the rule as it was, with its final
// counters.
func (p *Policy) RemoveRule(name string) (RuleDescription, error) {
	at, err := p.ruleIndex(name)
	if err != nil {
		return RuleDescription{}, err
	}
	r := p.rules[at]
	if len(r.triggers) > 0 {
		var parts []string
		for _, t := range r.triggers {
			parts = append(parts, t.part.name)
		}
		return RuleDescription{}, fmt.Errorf("rule %s counts matches for partition %s: it stays while the policy has that partition (set-policy replaces both)",
			quote(name), strings.Join(slices.Compact(parts), ", "))
	}
	p.mu.Lock()
	p.rules = slices.Delete(p.rules, at, at+1)
	p.reindex()
	p.mu.Unlock()
	delete(p.byName, name)
	for _, ls := range p.links {
		ls.rules = slices.Delete(ls.rules, at, at+1)
	}
	return r.describe(), nil
}

// reindex renumbers the rules after an edit; call it with mu held.
func (p *Policy) reindex() {
	for i, r := range p.rules {
		r.index = i
	}
}
