package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestNeverMatchingRefused: a criterion, or a combination of them, that
// no frame can meet is refused, once, at the value's line:col (the rule
// would sit at 0 matches and never say why); what some frame can meet is
// taken.
func TestNeverMatchingRefused(t *testing.T) {
	for _, tc := range []struct {
		name, match string
		want        string // the one error, after "p.yaml:"; "" when accepted
	}{
		{"length-above-any-frame", "{length: 999999999-}",
			fmt.Sprintf("3:21: rules[0].match.length: 999999999- starts at 999999999 bytes, but no frame is longer than %d", 1<<20)},
		{"length-exact-above-any-frame", "{length: 2MiB}", "3:21: rules[0].match.length: 2MiB starts at 2097152 bytes"},
		{"length-below-the-header", "{length: 1-10}",
			"3:21: rules[0].match.length: 1-10 ends at 10 bytes, but every frame holds at least its 14-byte Ethernet header"},
		{"length-open-below-the-header", "{length: -13}", "3:21: rules[0].match.length: -13 ends at 13 bytes"},
		{"length-header-only", "{length: 14}", ""},
		{"length-up-to-the-limit", "{length: 1MiB}", ""},
		{"length-past-the-limit-open", "{length: 60-}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "rules:\n  - name: x\n    match: " + tc.match + "\n"
			_, err := Parse([]byte(src), "p.yaml", abc)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got Parse(%q) = %v, want it accepted", src, err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), "p.yaml:"+tc.want) {
				t.Errorf("got Parse(%q) error\n%v\nwant the one error p.yaml:%s...", src, err, tc.want)
			}
		})
	}
}

// TestCompileRefusesNeverMatching: a Spec built in Go gets the same
// checks, at the rule.
func TestCompileRefusesNeverMatching(t *testing.T) {
	for _, tc := range []struct {
		name string
		ms   MatchSpec
		want string // "" when accepted
	}{
		{"length-above-any-frame", MatchSpec{Length: &Range{Min: 999999999, Max: -1}}, "match: length starts at 999999999 bytes"},
		{"length-below-the-header", MatchSpec{Length: &Range{Min: 1, Max: 10}}, "match: length ends at 10 bytes"},
		{"length", MatchSpec{Length: &Range{Min: 14, Max: -1}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := RuleSpec{Name: "x", Match: tc.ms, At: Pos{File: "code", Path: "rules[0]"}}
			_, err := Compile(&Spec{Name: "code", Rules: []RuleSpec{rs}}, abc)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got Compile = %v, want it accepted", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), "code: rules[0]: "+tc.want) {
				t.Errorf("got Compile error\n%v\nwant the one error code: rules[0]: %s...", err, tc.want)
			}
		})
	}
}
