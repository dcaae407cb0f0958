package serve

import (
	"fmt"
	"strings"
	"testing"

	"l2hub/filter"
)

// A script that replaces a large policy over and over must not grow the
// exit summary without end: it keeps the first MaxRemovedRules rules that
// went out of force and counts the rest, in JSON and in text.
func TestRemovedRulesBounded(t *testing.T) {
	var s Session
	batch := make([]RemovedRule, 300) // the rules of one policy a set-policy replaced
	for i := range batch {
		batch[i] = RemovedRule{RuleStats: filter.RuleStats{Rule: fmt.Sprintf("r%d", i)}, Why: WhyReplaced}
	}
	for range 4 {
		s.keepRemovedLocked(batch...)
	}
	s.keepRemovedLocked(RemovedRule{RuleStats: filter.RuleStats{Rule: "last"}, Why: WhyRemoved})
	if len(s.removed) != MaxRemovedRules || s.removedLeftOut != 4*300+1-MaxRemovedRules {
		t.Fatalf("kept %d and counted %d left out, want %d and %d", len(s.removed), s.removedLeftOut, MaxRemovedRules, 4*300+1-MaxRemovedRules)
	}
	if got := s.removed[MaxRemovedRules-1].Rule; got != fmt.Sprintf("r%d", (MaxRemovedRules-1)%300) {
		t.Errorf("the last rule kept is %s, want the first ones in order", got)
	}
	sum := Summary{Ports: []PortSummary{{Name: "a"}}, RemovedRules: s.removed, RemovedRulesLeftOut: s.removedLeftOut}
	var text strings.Builder
	sum.writeText(&text)
	if want := fmt.Sprintf("and %d more rules went out of force (the summary lists the first %d)", s.removedLeftOut, MaxRemovedRules); !strings.Contains(text.String(), want) {
		t.Errorf("the text summary does not say %q", want)
	}
	var js strings.Builder
	if err := sum.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"removed_rules_left_out":%d`, s.removedLeftOut); !strings.Contains(strings.ReplaceAll(js.String(), " ", ""), want) {
		t.Errorf("the JSON summary does not hold %s", want)
	}
}
