package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// TestEditLinesRoundTrip: every kind of edit written as a comment line
// reads back as itself, beside the lines a person reads, and a rule's
// newlines stay inside its one line.
func TestEditLinesRoundTrip(t *testing.T) {
	edits := []Edit{
		{At: 2500 * time.Millisecond, Op: EditRuleAdd, Name: "loss-a-b", Rule: "match: {link: a->b}\nloss: 5%\n", Before: "base"},
		{At: 3 * time.Second, Op: EditRuleUpdate, Name: "loss-a-b", Rule: "{loss: 7%}"},
		{At: 4*time.Second + 1, Op: EditRuleRemove, Name: "loss-a-b"},
		{At: 5 * time.Second, Op: EditPartitionStart, Name: "cut", Groups: [][]string{{"a"}, {"b", "c"}}},
		{At: 6 * time.Second, Op: EditPartitionStart, Name: "planned"},
		{At: 7 * time.Second, Op: EditPartitionHeal, Name: "cut"},
		{At: 8 * time.Second, Op: EditLinkDown, Name: "b"},
		{At: 9 * time.Second, Op: EditLinkUp, Name: "b"},
	}
	var comment []string
	for _, e := range edits {
		line := e.Line()
		if strings.Contains(line, "\n") || !strings.HasPrefix(line, EditPrefix) {
			t.Fatalf("%s: line %q, want one line starting %q", e, line, EditPrefix)
		}
		comment = append(comment, "control at "+e.At.String()+": "+e.String(), line)
	}
	got, errs := ParseEdits("dropped: rule x: drop\n" + strings.Join(comment, "\n"))
	if len(errs) > 0 || !reflect.DeepEqual(got, edits) {
		t.Fatalf("ParseEdits = %+v, %v\nwant %+v", got, errs, edits)
	}
	if got := WithoutEdits("dropped\n" + comment[0] + "\n" + comment[1]); got != "dropped\n"+comment[0] {
		t.Errorf("WithoutEdits = %q", got)
	}
	if got := WithoutEdits("dropped: loss"); got != "dropped: loss" {
		t.Errorf("WithoutEdits of a comment without edits = %q", got)
	}
}

// TestParseEditsRefusesBadLines: an edit line that is cut short, names an
// unknown operation or field, lacks what its operation needs or carries a
// negative time is an error naming what is wrong, and costs the good lines
// beside it nothing.
func TestParseEditsRefusesBadLines(t *testing.T) {
	good := Edit{Op: EditLinkDown, Name: "a"}.Line()
	for _, tc := range []struct{ line, msg string }{
		{EditPrefix + `{"at":1,"op":"link-down","na`, "unexpected EOF"},
		{EditPrefix + `{"at":1,"op":"explode","name":"a"}`, `op "explode": unknown`},
		{EditPrefix + `{"at":1,"op":"link-up","name":"a","port":"b"}`, `unknown field "port"`},
		{EditPrefix + `{"at":1,"op":"rule-add","name":"r"}`, `rule-add "r": no rule`},
		{EditPrefix + `{"at":1,"op":"partition-heal","name":""}`, "partition-heal: no name"},
		{EditPrefix + `{"at":-5,"op":"link-up","name":"a"}`, "at -5: not a run time"},
		{EditPrefix + `{"at":9223372036854775807,"op":"link-up","name":"a"}`, "not a run time (0 to 3153600000000000000 ns)"},
		{EditPrefix + `{"at":1,"op":"link-up","name":"a"} {}`, "text after the edit"},
		{EditPrefix + `[1]`, "cannot unmarshal array"},
		{EditPrefix + strings.Repeat(" ", maxEditLine+1), "more than"},
	} {
		edits, errs := ParseEdits(good + "\n" + tc.line + "\n" + good)
		if len(edits) != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.msg) ||
			!strings.HasPrefix(errs[0].Error(), "recorded policy edit: ") {
			t.Errorf("%.60q: %d edits, errors %v; want 2 and one error with %q", tc.line, len(edits), errs, tc.msg)
		}
	}
}

// TestEditApply: each edit changes the policy as the control API's own
// call does, at the time it is given, and an edit the policy cannot take
// is an error that changes nothing.
func TestEditApply(t *testing.T) {
	p := mustParse(t, "seed: 1\nrules:\n  - {name: base, match: {link: a->b}, delay: 1ms}\npartitions:\n  - {name: planned, groups: a|b, start: 1h}\n")
	dropped := func(now time.Duration) bool {
		var d hub.Decision
		p.Decide(now, link("a", "b"), plain(), &d)
		return d.Drop
	}
	apply := func(e Edit) {
		t.Helper()
		if _, err := e.Apply(p, e.At); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
	}
	apply(Edit{At: time.Second, Op: EditRuleAdd, Name: "drop-all", Rule: "{drop: true}", Before: "base"})
	if names := ruleNames(p); names != "drop-all,base" || !dropped(time.Second) {
		t.Fatalf("after the add: rules %s, dropped %v", names, dropped(time.Second))
	}
	apply(Edit{At: 2 * time.Second, Op: EditRuleUpdate, Name: "drop-all", Rule: "{match: {link: b->a}, drop: true}"})
	if dropped(2 * time.Second) {
		t.Error("after the update, a->b is still dropped")
	}
	apply(Edit{At: 3 * time.Second, Op: EditRuleRemove, Name: "drop-all"})
	if names := ruleNames(p); names != "base" {
		t.Errorf("after the removal: rules %s", names)
	}
	apply(Edit{At: 4 * time.Second, Op: EditPartitionStart, Name: "cut", Groups: [][]string{{"a"}, {"b"}}})
	if !dropped(4 * time.Second) {
		t.Error("the ad-hoc partition does not cut a->b")
	}
	apply(Edit{At: 5 * time.Second, Op: EditPartitionHeal, Name: "cut"})
	apply(Edit{At: 5 * time.Second, Op: EditPartitionStart, Name: "planned"})
	if !dropped(5 * time.Second) {
		t.Error("the policy's partition, started, does not cut a->b")
	}
	apply(Edit{At: 6 * time.Second, Op: EditPartitionHeal, Name: "planned"})
	apply(Edit{At: 6 * time.Second, Op: EditLinkDown, Name: "b"})
	if !dropped(6 * time.Second) {
		t.Error("link b down lets a->b through")
	}
	apply(Edit{At: 7 * time.Second, Op: EditLinkUp, Name: "b"})
	if dropped(7 * time.Second) {
		t.Error("after the heals and the link up, a->b is dropped")
	}

	for _, tc := range []struct {
		e  Edit
		is error
	}{
		{Edit{Op: EditRuleUpdate, Name: "gone", Rule: "{drop: true}"}, ErrUnknownRule},
		{Edit{Op: EditRuleRemove, Name: "gone"}, ErrUnknownRule},
		{Edit{Op: EditRuleAdd, Name: "base", Rule: "{drop: true}"}, ErrRuleExists},
		{Edit{Op: EditRuleAdd, Name: "x", Rule: "{loss: 150%}"}, ErrInvalid},
		{Edit{Op: EditPartitionHeal, Name: "gone"}, ErrUnknownPartition},
		{Edit{Op: EditLinkDown, Name: "z"}, hub.ErrNoPort},
	} {
		if _, err := tc.e.Apply(p, 8*time.Second); !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", tc.e, err, tc.is)
		}
	}
	if names := ruleNames(p); names != "base" || dropped(8*time.Second) {
		t.Errorf("after the refused edits: rules %s, dropped %v; want base alone, passing", names, dropped(8*time.Second))
	}
}

func FuzzParseEdits(f *testing.F) {
	f.Add(Edit{At: 1, Op: EditRuleAdd, Name: "r", Rule: "{loss: 5%}"}.Line())
	f.Add("control at 1s: link a down\n" + Edit{At: 1, Op: EditLinkDown, Name: "a"}.Line())
	f.Add(EditPrefix + `{"at":1,"op":"partition-start","groups":[["a"],["b"]]}`)
	f.Add(EditPrefix + `{"at`)
	f.Fuzz(func(t *testing.T, comment string) {
		edits, errs := ParseEdits(comment)
		if n := strings.Count(comment, EditPrefix); len(edits)+len(errs) > n {
			t.Fatalf("%d edits and %d errors from %d prefixes", len(edits), len(errs), n)
		}
		p := mustParse(t, "seed: 3\nrules:\n  - {name: base, match: {link: a->b}, loss: 10%}\n")
		for _, e := range edits {
			if got, errs := ParseEdits(e.Line()); len(errs) > 0 || len(got) != 1 || !reflect.DeepEqual(got[0], e) {
				t.Fatalf("%+v does not round-trip: %+v, %v", e, got, errs)
			}
			e.Apply(p, e.At) // may refuse; must not panic
			var d hub.Decision
			p.Decide(e.At, link("a", "b"), plain(), &d)
		}
	})
}
