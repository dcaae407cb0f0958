package control_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/filter"
)

// ruleTarget is a fake target that can edit rules: it keeps their names
// and sources.
type ruleTarget struct {
	*fakeTarget
	mu    sync.Mutex
	rules []string          // names, in order
	src   map[string]string // name -> source
}

func (r *ruleTarget) AddRule(_ context.Context, name string, src []byte, before string) (filter.RuleDescription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.Contains(string(src), "bad") {
		return filter.RuleDescription{}, &control.UserError{Err: fmt.Errorf("rule %s:1:2: loss: bad value: %w", name, filter.ErrInvalid)}
	}
	if _, ok := r.src[name]; ok {
		return filter.RuleDescription{}, &control.UserError{Err: fmt.Errorf("rule %q: %w", name, filter.ErrRuleExists)}
	}
	at := len(r.rules)
	if before != "" {
		at = -1
		for i, n := range r.rules {
			if n == before {
				at = i
			}
		}
		if at < 0 {
			return filter.RuleDescription{}, &control.UserError{Err: fmt.Errorf("rule %q: %w", before, filter.ErrUnknownRule)}
		}
	}
	r.rules = append(r.rules[:at], append([]string{name}, r.rules[at:]...)...)
	r.src[name] = string(src)
	return filter.RuleDescription{Name: name, Actions: []string{"as " + string(src)}}, nil
}

func (r *ruleTarget) UpdateRule(_ context.Context, name string, src []byte) (filter.RuleDescription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.src[name]; !ok {
		return filter.RuleDescription{}, &control.UserError{Err: fmt.Errorf("rule %q: %w", name, filter.ErrUnknownRule)}
	}
	r.src[name] = string(src)
	return filter.RuleDescription{Name: name, Actions: []string{"as " + string(src)}}, nil
}

func (r *ruleTarget) RemoveRule(_ context.Context, name string) (filter.RuleDescription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.src[name]; !ok {
		return filter.RuleDescription{}, &control.UserError{Err: fmt.Errorf("rule %q: %w", name, filter.ErrUnknownRule)}
	}
	delete(r.src, name)
	for i, n := range r.rules {
		if n == name {
			r.rules = append(r.rules[:i], r.rules[i+1:]...)
			break
		}
	}
	return filter.RuleDescription{Name: name, Counters: filter.RuleStats{Rule: name, Matched: 9}}, nil
}

// TestRuleEdits: the client's rule edits reach the target with their
// name, source and position, come back typed, and the hub's refusals come
// back as errors that say what was refused and match its sentinel.
func TestRuleEdits(t *testing.T) {
	target := &ruleTarget{fakeTarget: newFakeTarget(), src: map[string]string{}}
	path := controltest.ServeTarget(t, target)
	c := control.NewClient(path, "")
	ctx := context.Background()

	if d, err := c.AddRule(ctx, "loss", []byte("{loss: 5%}"), ""); err != nil || d.Name != "loss" || d.Actions[0] != "as {loss: 5%}" {
		t.Fatalf("AddRule(loss) = %+v, %v", d, err)
	}
	if _, err := c.AddRule(ctx, "first", []byte("{drop: true}"), "loss"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(target.rules, ","); got != "first,loss" {
		t.Errorf("rules %s, want first before loss", got)
	}
	if d, err := c.UpdateRule(ctx, "loss", []byte("{loss: 9%}")); err != nil || target.src["loss"] != "{loss: 9%}" || d.Actions[0] != "as {loss: 9%}" {
		t.Errorf("UpdateRule(loss) = %+v, %v; target has %q", d, err, target.src["loss"])
	}
	if d, err := c.RemoveRule(ctx, "first"); err != nil || d.Counters.Matched != 9 {
		t.Errorf("RemoveRule(first) = %+v, %v; want its last counters", d, err)
	}

	for _, tc := range []struct {
		name   string
		call   func() error
		is     error
		code   string
		status int
		msg    string
	}{
		{"duplicate", func() error { _, err := c.AddRule(ctx, "loss", []byte("{drop: true}"), ""); return err },
			filter.ErrRuleExists, control.CodeRuleExists, 400, `rule "loss": a rule of that name exists`},
		{"unknown-update", func() error { _, err := c.UpdateRule(ctx, "nope", []byte("{drop: true}")); return err },
			filter.ErrUnknownRule, control.CodeUnknownRule, 400, `rule "nope": no such rule`},
		{"unknown-remove", func() error { _, err := c.RemoveRule(ctx, "nope"); return err },
			filter.ErrUnknownRule, control.CodeUnknownRule, 400, `rule "nope": no such rule`},
		{"unknown-before", func() error { _, err := c.AddRule(ctx, "x", []byte("{drop: true}"), "nope"); return err },
			filter.ErrUnknownRule, control.CodeUnknownRule, 400, `rule "nope"`},
		{"invalid", func() error { _, err := c.AddRule(ctx, "x", []byte("{loss: bad}"), ""); return err },
			filter.ErrInvalid, control.CodeInvalid, 400, "rule x:1:2: loss: bad value"},
		{"empty", func() error { _, err := c.AddRule(ctx, "x", []byte("# nothing\n\n"), ""); return err },
			filter.ErrInvalid, control.CodeInvalid, 400, "rule x is empty"},
		{"too-large", func() error {
			_, err := c.AddRule(ctx, "x", []byte("{drop: true}"+strings.Repeat(" ", filter.MaxRuleBytes)), "")
			return err
		}, control.ErrTooLarge, control.CodeTooLarge, 413, "rule x is larger than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ce *control.Error
			if !errors.As(err, &ce) || ce.Status != tc.status || ce.Code != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %#v (%v); want status %d, code %q, a message with %q", err, err, tc.status, tc.code, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v does not match %v", err, tc.is)
			}
			if tc.is != filter.ErrUnknownRule && errors.Is(err, filter.ErrUnknownRule) {
				t.Errorf("%v matches ErrUnknownRule", err)
			}
		})
	}
	if got := strings.Join(target.rules, ","); got != "loss" {
		t.Errorf("after the refused edits, rules %s, want loss alone", got)
	}

	// Web pages are refused before the target sees anything.
	for _, hdr := range []map[string]string{
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/yaml", "Origin": "http://evil.example"},
	} {
		if status, body := rawRequest(t, path, "POST", "/v1/rules/page", hdr, "{drop: true}"); status != http.StatusUnsupportedMediaType && status != http.StatusForbidden {
			t.Errorf("POST /v1/rules/page with %v: %d %s", hdr, status, body)
		}
	}
	if _, ok := target.src["page"]; ok {
		t.Error("a web page added a rule")
	}
}

// TestRuleEditsNeedAnEditor: a target that cannot edit rules answers 501.
func TestRuleEditsNeedAnEditor(t *testing.T) {
	_, err := controltest.Client(t, struct{ control.Target }{newFakeTarget()}).AddRule(context.Background(), "x", []byte("{drop: true}"), "")
	var ce *control.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusNotImplemented {
		t.Errorf("got %v, want 501", err)
	}
}
