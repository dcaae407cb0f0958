package report

import (
	"slices"
	"testing"
)

func TestParseComment(t *testing.T) {
	tests := []struct {
		name    string
		comment string
		dropped bool
		want    []note
	}{
		{"none", "", false, nil},
		{"loss", "dropped: a->b: rule loss-a-b: drop (p=0.05 draw=0.0213)", true,
			[]note{{Link: "a->b", Rule: "loss-a-b", Action: "drop", Detail: "p=0.05 draw=0.0213"}}},
		{"partition", "dropped: b->a: rule split: partition (a|b)", true,
			[]note{{Link: "b->a", Rule: "split", Action: "partition", Detail: "a|b"}}},
		{"delay-on-a-copy", "rule slow: delay (5ms±2ms uniform draw=-1.093834ms)", false,
			[]note{{Rule: "slow", Action: "delay", Detail: "5ms±2ms uniform draw=-1.093834ms"}}},
		{"hub-itself", "dropped: b->a: overflow (egress queue full (64 frames))", true,
			[]note{{Link: "b->a", Action: "overflow", Detail: "egress queue full (64 frames)"}}},
		{"several-links", "a->b: rule dup: duplicate (copies=2); a->c: rule x: drop (always)", false,
			[]note{{Link: "a->b", Rule: "dup", Action: "duplicate", Detail: "copies=2"}, {Link: "a->c", Rule: "x", Action: "drop", Detail: "always"}}},
		{"semicolon-in-detail", "a->b: rule r: corrupt (odd; text)", false,
			[]note{{Link: "a->b", Rule: "r", Action: "corrupt", Detail: "odd; text"}}},
		{"down-by-api", "dropped: a->b: down (port b)", true, []note{{Link: "a->b", Action: "down", Detail: "port b"}}},
		{"bare-dropped", "dropped", true, nil},
		{"another-tool's-words", "looks odd: retransmission?", false, []note{{Detail: "looks odd: retransmission?"}}},
		{"two-comments", "dropped: a->b: rule r: drop (always)\nreviewed by me", true,
			[]note{{Link: "a->b", Rule: "r", Action: "drop", Detail: "always"}, {Detail: "reviewed by me"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dropped, got := parseComment(tt.comment)
			if dropped != tt.dropped || !slices.Equal(got, tt.want) {
				t.Errorf("got parseComment(%q) = %v, %+v, want %v, %+v", tt.comment, dropped, got, tt.dropped, tt.want)
			}
		})
	}
}

func TestNoteReason(t *testing.T) {
	n := note{Link: "a->b", Rule: "loss", Action: "drop", Detail: "p=0.1"}
	if got, want := n.reason(), "rule loss: drop (p=0.1)"; got != want {
		t.Errorf("got reason %q, want %q", got, want)
	}
	if got := n.to(); got != "b" {
		t.Errorf("got to() = %q, want b", got)
	}
}
