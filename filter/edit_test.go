package filter

import (
	"errors"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// ruleNotes is what one rule did to a frame, as the frame's notes say it
// (a copy's notes go with the copy, which a later drop takes away).
func ruleNotes(d *hub.Decision, rule string) string {
	var b strings.Builder
	for _, n := range d.Notes {
		if n.Rule == rule {
			b.WriteString(hub.FormatNotes([]hub.Note{n}))
			b.WriteString("; ")
		}
	}
	return b.String()
}

// runRule feeds n plain frames on link a->b from time from, one per
// millisecond, and returns what rule did to each.
func runRule(p *Policy, rule string, from time.Duration, n int) []string {
	out := make([]string, n)
	for i := range n {
		var d hub.Decision
		p.Decide(from+time.Duration(i)*time.Millisecond, link("a", "b"), plain(), &d)
		out[i] = ruleNotes(&d, rule)
	}
	return out
}

func mustRule(t *testing.T, p *Policy, src, name string) *RuleSpec {
	t.Helper()
	rs, err := p.ParseRule([]byte(src), "rule.yaml", name)
	if err != nil {
		t.Fatalf("ParseRule(%q): %v", src, err)
	}
	return rs
}

// sameRuns compares what a rule did to each frame with what it should
// have; a rule that did nothing would prove nothing.
func sameRuns(t *testing.T, what string, got, want []string) {
	t.Helper()
	acted := 0
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: frame %d: got %q, want %q", what, i+1, got[i], want[i])
		}
		if want[i] != "" {
			acted++
		}
	}
	if acted == 0 {
		t.Fatalf("%s: the rule acted on none of %d frames", what, len(want))
	}
}

// TestRuleEditsAreDeterministic: a rule added or updated on a running
// policy decides as the same rule would in a policy started with it (its
// stream from (seed, link, name), its counts from zero), while the rule
// beside it goes on exactly as if nothing had changed, counters included.
func TestRuleEditsAreDeterministic(t *testing.T) {
	const seed = "seed: 11\n"
	lossy := "{name: lossy, match: {link: a->b}, loss: 30%}"
	live := mustParse(t, seed+"rules:\n  - "+lossy+"\n")
	alone := mustParse(t, seed+"rules:\n  - "+lossy+"\n") // lossy, untouched, for reference

	sameRuns(t, "lossy before any edit", runRule(live, "lossy", 0, 50), runRule(alone, "lossy", 0, 50))

	// Add a rule before lossy: it starts afresh; lossy goes on.
	dup := "{name: dup, match: {link: a->b}, duplicate: 40%}"
	if _, err := live.AddRule(mustRule(t, live, dup, "dup"), "lossy"); err != nil {
		t.Fatal(err)
	}
	dupAlone := mustParse(t, seed+"rules:\n  - "+dup+"\n")
	at := 50 * time.Millisecond
	gotDup := make([]string, 50)
	gotLossy := make([]string, 50)
	for i := range 50 {
		var d hub.Decision
		live.Decide(at+time.Duration(i)*time.Millisecond, link("a", "b"), plain(), &d)
		gotDup[i], gotLossy[i] = ruleNotes(&d, "dup"), ruleNotes(&d, "lossy")
	}
	sameRuns(t, "dup after it was added", gotDup, runRule(dupAlone, "dup", 0, 50))
	sameRuns(t, "lossy after dup was added", gotLossy, runRule(alone, "lossy", at, 50))
	st := live.Stats()
	if st.Rules[0].Rule != "dup" || st.Rules[1].Rule != "lossy" || st.Rules[1].Matched != 100 || st.Rules[0].Matched != 50 {
		t.Fatalf("after the add: %+v; want dup (50 matched) before lossy (100 matched)", st.Rules)
	}
	lossyDropped := st.Rules[1].Dropped

	// Update lossy: it starts afresh with its new loss, keeps counting.
	lossy60 := "{match: {link: a->b}, loss: 60%}"
	if _, err := live.UpdateRule(mustRule(t, live, lossy60, "lossy")); err != nil {
		t.Fatal(err)
	}
	if _, err := live.RemoveRule("dup"); err != nil {
		t.Fatal(err)
	}
	fresh := mustParse(t, seed+"rules:\n  - {name: lossy, match: {link: a->b}, loss: 60%}\n")
	at = 100 * time.Millisecond
	sameRuns(t, "lossy after its update", runRule(live, "lossy", at, 50), runRule(fresh, "lossy", 0, 50))
	st = live.Stats()
	if len(st.Rules) != 1 || st.Rules[0].Matched != 150 || st.Rules[0].Dropped <= lossyDropped {
		t.Errorf("after the update and the removal: %+v; want lossy alone, 150 matched, more than %d dropped", st.Rules, lossyDropped)
	}
	if got := runRule(live, "dup", at+50*time.Millisecond, 20); strings.Join(got, "") != "" {
		t.Errorf("dup acted after it was removed: %q", got)
	}
}

// TestRuleEditsLeaveOtherCounters: adding, updating and removing one rule
// changes no other rule's counters or order, nor the partitions.
func TestRuleEditsLeaveOtherCounters(t *testing.T) {
	p := mustParse(t, `seed: 1
rules:
  - {name: first, match: {link: a->b, first: 2}, drop: true}
  - {name: all-b-a, match: {link: b->a}, delay: 1ms}
partitions:
  - {name: later, groups: a|b, start: 1h}
`)
	for i := range 5 {
		decide(p, time.Duration(i), link("a", "b"), plain())
		decide(p, time.Duration(i), link("b", "a"), plain())
	}
	before := p.Stats()
	if before.Rules[0].Dropped != 2 || before.Rules[1].Delayed != 5 {
		t.Fatalf("before: %+v", before.Rules)
	}
	steps := []func() error{
		func() error {
			_, err := p.AddRule(mustRule(t, p, "{match: {link: c->a}, drop: true}", "third"), "")
			return err
		},
		func() error {
			_, err := p.UpdateRule(mustRule(t, p, "{match: {link: c->a}, loss: 1%}", "third"))
			return err
		},
		func() error { _, err := p.RemoveRule("third"); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		st := p.Stats()
		for j := range before.Rules {
			if st.Rules[j] != before.Rules[j] {
				t.Errorf("step %d: rule %d: got %+v, want %+v", i, j, st.Rules[j], before.Rules[j])
			}
		}
		if len(st.Partitions) != 1 || st.Partitions[0].Name != "later" {
			t.Errorf("step %d: partitions %+v", i, st.Partitions)
		}
	}
	// first's window is done: an update starts it again.
	if _, err := p.UpdateRule(mustRule(t, p, "{match: {link: a->b, first: 2}, drop: true}", "first")); err != nil {
		t.Fatal(err)
	}
	if d := decide(p, 10, link("a", "b"), plain()); !d.Drop {
		t.Error("the updated first: 2 rule did not drop the next frame: its window did not start again")
	}
	if st := p.Stats(); st.Rules[0].Matched != 3 || st.Rules[0].Dropped != 3 {
		t.Errorf("updated rule's counters: %+v, want 3 matched and dropped (its 2, and 1 more)", st.Rules[0])
	}
}

func TestRuleEditErrors(t *testing.T) {
	p := mustParse(t, `seed: 1
groups: {ab: [a, b]}
rules:
  - {name: hello, match: {link: a->c}, delay: 1ms}
  - {name: other, match: {from: ab}, loss: 1%}
partitions:
  - {name: after-hello, groups: a|c, start: {rule: hello, matches: 3}}
`)
	for _, tc := range []struct {
		name, src, rule, want string
	}{
		{"empty", "", "x", "empty: give one rule"},
		{"comment-only", "# nothing\n", "x", "empty: give one rule"},
		{"syntax", "{match: [", "x", "rule.yaml:1:"},
		{"not-a-mapping", "loss 5%", "x", `rule.yaml:1:1: want one rule (a mapping of name, match and impairments), got "loss 5%"`},
		{"two-rules", "- {name: x, drop: true}\n- {name: y, drop: true}\n", "x", "rule.yaml:1:1: want one rule, got a list of 2"},
		{"bad-probability", "{match: {link: a->b}, loss: 150%}", "x", `rule.yaml:1:29: loss: `},
		{"unknown-port", "{match: {link: a->z}, drop: true}", "x", `port "z" does not exist`},
		{"unknown-key", "{match: {link: a->b}, lose: 5%}", "x", `rule.yaml:1:23: lose: unknown field "lose", did you mean "loss"?`},
		{"other-name", "{name: y, drop: true}", "x", `rule.yaml:1:8: name: "y", but the rule to change is "x"`},
		{"reorder-without-delay", "{reorder: 5%}", "x", "reorder needs a delay"},
		{"bad-name", "{drop: true}", "has space", `rule name "has space"`},
		{"empty-name", `{name: "", drop: true}`, "", `rule.yaml:1:8: name: rule name "" must be`},
		{"empty-name-given", `{name: "", drop: true}`, "x", `name: "", but the rule to change is "x"`},
		{"dot-dot-name", "{drop: true}", "..", `rule name ".." must be 1-64 printable characters without spaces or quotes, and not "." or ".."`},
		{"too-big", "{drop: true}" + strings.Repeat(" ", MaxRuleBytes), "x", "at most 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := p.ParseRule([]byte(tc.src), "rule.yaml", tc.rule)
			if err == nil {
				_, err = p.AddRule(rs, "")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if tc.name != "bad-name" && tc.name != "dot-dot-name" && !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
		})
	}
	if rs := mustRule(t, p, "{match: {link: ab->c}, drop: true}", "groups-work"); len(rs.Match.Links) != 2 {
		t.Errorf("a group in a rule: links %v, want a->c and b->c", rs.Match.Links)
	}
	// A spec built in Go with a name given empty is refused, not added
	// as nothing (nor a nil rule dereferenced).
	if _, err := p.AddRule(&RuleSpec{Drop: true, NameAt: Pos{File: "code", Path: "name"}}, ""); err == nil || !strings.Contains(err.Error(), `code: name: rule name ""`) {
		t.Errorf("adding a rule with an empty name: %v, want a refusal at its name", err)
	}
	if _, err := p.AddRule(mustRule(t, p, "{drop: true}", "hello"), ""); !errors.Is(err, ErrRuleExists) {
		t.Errorf("adding an existing name: %v, want ErrRuleExists", err)
	}
	if _, err := p.AddRule(mustRule(t, p, "{drop: true}", "new"), "nope"); !errors.Is(err, ErrUnknownRule) || !strings.Contains(err.Error(), "rules: hello, other") {
		t.Errorf("adding before an unknown rule: %v, want ErrUnknownRule naming the rules", err)
	}
	if _, err := p.UpdateRule(mustRule(t, p, "{drop: true}", "nope")); !errors.Is(err, ErrUnknownRule) {
		t.Errorf("updating an unknown rule: %v, want ErrUnknownRule", err)
	}
	if _, err := p.RemoveRule("nope"); !errors.Is(err, ErrUnknownRule) {
		t.Errorf("removing an unknown rule: %v, want ErrUnknownRule", err)
	}
	if _, err := p.RemoveRule("hello"); err == nil || !strings.Contains(err.Error(), "partition after-hello") {
		t.Errorf("removing a rule a partition counts: %v, want a refusal naming the partition", err)
	}
	if names := ruleNames(p); names != "hello,other" {
		t.Errorf("refused edits changed the rules: %s", names)
	}
	// An update keeps the trigger: three more matches start the partition.
	if _, err := p.UpdateRule(mustRule(t, p, "{match: {link: a->c}, delay: 2ms}", "hello")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		decide(p, time.Duration(i), link("a", "c"), plain())
	}
	if d := decide(p, 5, link("a", "c"), plain()); !d.Drop || !strings.Contains(hub.FormatNotes(d.Notes), "partition") {
		t.Errorf("after 3 matches of the updated hello, a->c: %s; want the partition's drop", hub.FormatNotes(d.Notes))
	}
}

// TestRuleUpdateKeepsTriggersAbleToFire: an update with which a partition
// trigger counting the rule could never fire is refused, as the policy
// would be refused at load, and leaves the rule as it was.
func TestRuleUpdateKeepsTriggersAbleToFire(t *testing.T) {
	const (
		startOnAB = "rules:\n  - {name: ping, match: {link: a->b}}\npartitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1, link: a->b}, duration: 1s}\n"
		endAny    = "rules:\n  - {name: ping, match: {link: [a->b, b->c]}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1}}\n"
		endOnBC   = "rules:\n  - {name: ping, match: {link: [a->b, b->c]}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1, link: b->c}}\n"
		startEnd  = "rules:\n  - {name: ping, match: {link: a->b}}\npartitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1}, end: 2s}\n"
	)
	for _, tc := range []struct {
		name, policy, update, want string // want: "" for accepted
	}{
		{"start-link-not-matched", startOnAB, "{match: {link: b->c}}", `rule.yaml:1:1: the start trigger of partition p counts this rule's matches and could not fire after the update: rule "ping" never matches a frame on a->b`},
		{"start-link-still-matched", startOnAB, "{match: {link: [a->b, b->c]}, delay: 1ms}", ""},
		{"end-every-link-cut", endAny, "{match: {link: a->b}}", `the end trigger of partition p counts this rule's matches and could not fire after the update: the partition cuts every link rule "ping" matches on`},
		{"end-a-link-left-whole", endAny, "{match: {link: b->c}}", ""},
		{"end-link-not-matched", endOnBC, "{match: {link: a->b}}", `rule "ping" never matches a frame on b->c`},
		{"end-link-still-matched", endOnBC, "{match: {from: b}}", ""},
		{"start-after-the-end", startEnd, "{match: {link: a->b, during: 3s-}}", `the start trigger of partition p counts this rule's matches and could not fire after the update: rule "ping" matches only from 3s on (during), and the partition's window is over at 2s`},
		{"start-before-the-end", startEnd, "{match: {link: a->b, during: 1s-}}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			before := p.Describe(0).Rules[0].Match
			_, err := p.UpdateRule(mustRule(t, p, tc.update, "ping"))
			if tc.want == "" {
				if err != nil {
					t.Errorf("got UpdateRule error %v, want the update made", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got UpdateRule error %v, want one with %q matching ErrInvalid", err, tc.want)
			}
			if got := p.Describe(0).Rules[0].Match; got != before {
				t.Errorf("got the refused update's match %s in force, want %s as before", got, before)
			}
		})
	}
}

func ruleNames(p *Policy) string {
	var names []string
	for _, r := range p.Stats().Rules {
		names = append(names, r.Rule)
	}
	return strings.Join(names, ",")
}

// TestStatsConcurrentWithRuleEdits: run under -race, Stats reads while the
// loop decides and edits rules.
func TestStatsConcurrentWithRuleEdits(t *testing.T) {
	p := mustParse(t, "rules:\n  - {name: base, match: {link: a->b}, loss: 10%}\n")
	add := mustRule(t, p, "{match: {link: a->b}, delay: 1ms}", "extra")
	stop := readStats(p)
	for i := range 2000 {
		decide(p, time.Duration(i), link("a", "b"), plain())
		switch i % 100 {
		case 10:
			if _, err := p.AddRule(add, "base"); err != nil {
				t.Fatal(err)
			}
		case 60:
			if _, err := p.RemoveRule("extra"); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop()
	if st := p.Stats(); len(st.Rules) != 1 || st.Rules[0].Matched != 2000 {
		t.Errorf("got %+v, want base alone, 2000 matched", st.Rules)
	}
}
