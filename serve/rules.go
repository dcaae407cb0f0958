package serve

import (
	"context"
	"strings"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

// The control API's rule edits: one rule added, updated or removed in the
// policy in force, on the hub loop, so that the edit falls between two
// frames. The other rules keep their counters and streams, and the capture
// goes on in the same file (only a whole set-policy starts a new one): the
// edit is noted there, on the next frame recorded (record, as partitions
// and link changes are), and in the log.
var _ control.RuleEditor = (*Session)(nil)

// AddRule implements control.RuleEditor: src is one rule in the policy
// file's syntax (its name, if given, is name), added after the others or
// just before the rule named before.
func (s *Session) AddRule(ctx context.Context, name string, src []byte, before string) (filter.RuleDescription, error) {
	where := ""
	if before != "" {
		where = " before " + before
	}
	return s.editRule(ctx, "added"+where, filter.Edit{Op: filter.EditRuleAdd, Name: name, Rule: string(src), Before: before}, src, func(p *filter.Policy, rs *filter.RuleSpec) (filter.RuleDescription, error) {
		return p.AddRule(rs, before)
	})
}

// UpdateRule implements control.RuleEditor: the rule named name becomes
// src, in its place; its counters go on.
func (s *Session) UpdateRule(ctx context.Context, name string, src []byte) (filter.RuleDescription, error) {
	return s.editRule(ctx, "updated", filter.Edit{Op: filter.EditRuleUpdate, Name: name, Rule: string(src)}, src, func(p *filter.Policy, rs *filter.RuleSpec) (filter.RuleDescription, error) {
		return p.UpdateRule(rs)
	})
}

// RemoveRule implements control.RuleEditor; it returns the rule as it was,
// with its last counters.
func (s *Session) RemoveRule(ctx context.Context, name string) (filter.RuleDescription, error) {
	return s.editRule(ctx, "removed", filter.Edit{Op: filter.EditRuleRemove, Name: name}, nil, func(p *filter.Policy, _ *filter.RuleSpec) (filter.RuleDescription, error) {
		return p.RemoveRule(name)
	})
}

// editRule parses src (nil: no rule to parse) against the policy in force,
// then runs edit on the loop with that policy (an empty one, put in force
// only once the edit succeeds, when the hub runs without), notes the edit in the
// capture (record, as e) and logs it.
func (s *Session) editRule(ctx context.Context, verb string, e filter.Edit, src []byte,
	edit func(p *filter.Policy, rs *filter.RuleSpec) (filter.RuleDescription, error)) (filter.RuleDescription, error) {
	name, file := e.Name, control.RuleFile(e.Name)
	parse := func(p *filter.Policy) (*filter.RuleSpec, error) {
		if src == nil {
			return nil, nil
		}
		if p == nil {
			var err error
			if p, err = s.emptyPolicy(); err != nil {
				return nil, err
			}
		}
		return p.ParseRule(src, file, name)
	}
	// Parse off the loop, against the policy in force; should a set-policy
	// come in between, parse again on the loop, against its successor.
	parsedFor := s.currentPolicy()
	rs, err := parse(parsedFor)
	if err != nil {
		return filter.RuleDescription{}, &control.UserError{Err: err}
	}
	var desc filter.RuleDescription
	var at time.Duration
	var ferr error
	err = s.hub.Do(ctx, func(c *hub.Core) {
		p := s.currentPolicy()
		if p != parsedFor && src != nil {
			if rs, ferr = parse(p); ferr != nil {
				return
			}
		}
		var install func()
		if p, install, ferr = s.policyToEdit(c); ferr != nil {
			return
		}
		if desc, ferr = edit(p, rs); ferr != nil {
			return
		}
		install()
		at = c.Elapsed()
		// Between the last frame before the edit and the first after.
		e.At = at
		s.record(e, desc)
		if e.Op == filter.EditRuleRemove {
			s.mu.Lock()
			s.keepRemovedLocked(removedRule(p, desc.Counters, WhyRemoved, at))
			s.mu.Unlock()
		}
	})
	if err != nil {
		return filter.RuleDescription{}, err
	}
	if ferr != nil {
		return filter.RuleDescription{}, &control.UserError{Err: ferr}
	}
	attrs := []any{"rule", desc.Name, "at", logAt(at)}
	if desc.Match != "" {
		attrs = append(attrs, "match", desc.Match)
	}
	if verb == "removed" {
		attrs = append(attrs, "matched", desc.Counters.Matched)
	} else {
		attrs = append(attrs, "actions", strings.Join(desc.Actions, ", "))
	}
	s.log.Info("rule "+verb, attrs...)
	return desc, nil
}

// logAt is how a log record gives a time since the hub started ("at"):
// as a duration's text ("1m2.1s"), one type in every record and handler,
// where slog's JSON handler would give a Duration as bare nanoseconds.
func logAt(at time.Duration) string { return at.String() }

// emptyPolicy is the policy the control API puts in force on a hub that
// runs without one: no rules, seed 0.
func (s *Session) emptyPolicy() (*filter.Policy, error) {
	return filter.Parse([]byte("rules: []\n"), "control", s.cfg.PortNames())
}

// policyToEdit returns the policy an edit is made to, on the loop, and
// install, to call once the edit succeeded: the policy in force (install
// does nothing), or, when the hub runs without one, a fresh empty one
// that install puts in force. So an edit that is refused (an unknown rule
// or port) leaves a hub without a policy as it was, rather than running an
// empty policy named control that nothing recorded.
func (s *Session) policyToEdit(c *hub.Core) (p *filter.Policy, install func(), err error) {
	if p := s.currentPolicy(); p != nil {
		return p, func() {}, nil
	}
	if p, err = s.emptyPolicy(); err != nil {
		return nil, nil, err
	}
	return p, func() {
		c.SetPolicy(p)
		s.mu.Lock()
		s.policy = p
		s.mu.Unlock()
		s.warnClassicPcap()
	}, nil
}
