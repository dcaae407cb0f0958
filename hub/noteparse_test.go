package hub_test

import (
	"slices"
	"testing"

	"l2hub/hub"
)

func TestParseNotes(t *testing.T) {
	tests := []struct {
		name    string
		comment string
		dropped bool
		want    []hub.ParsedNote
	}{
		{"none", "", false, nil},
		{"loss", "dropped: a->b: rule loss-a-b: drop (p=0.05 draw=0.0213)", true,
			[]hub.ParsedNote{{Link: "a->b", Rule: "loss-a-b", Action: "drop", Detail: "p=0.05 draw=0.0213"}}},
		{"partition", "dropped: b->a: rule split: partition (a|b)", true,
			[]hub.ParsedNote{{Link: "b->a", Rule: "split", Action: "partition", Detail: "a|b"}}},
		{"delay-on-a-copy", "rule slow: delay (5ms±2ms uniform draw=-1.093834ms)", false,
			[]hub.ParsedNote{{Rule: "slow", Action: "delay", Detail: "5ms±2ms uniform draw=-1.093834ms"}}},
		{"hub-itself", "dropped: b->a: overflow (egress queue full (64 frames))", true,
			[]hub.ParsedNote{{Link: "b->a", Action: "overflow", Detail: "egress queue full (64 frames)"}}},
		{"several-links", "a->b: rule dup: duplicate (copies=2); a->c: rule x: drop (always)", false,
			[]hub.ParsedNote{{Link: "a->b", Rule: "dup", Action: "duplicate", Detail: "copies=2"}, {Link: "a->c", Rule: "x", Action: "drop", Detail: "always"}}},
		{"semicolon-in-detail", "a->b: rule r: corrupt (odd; text)", false,
			[]hub.ParsedNote{{Link: "a->b", Rule: "r", Action: "corrupt", Detail: "odd; text"}}},
		{"down-by-api", "dropped: a->b: down (port b)", true, []hub.ParsedNote{{Link: "a->b", Action: "down", Detail: "port b"}}},
		{"bare-dropped", "dropped", true, nil},
		{"another-tool's-words", "looks odd: retransmission?", false, []hub.ParsedNote{{Detail: "looks odd: retransmission?"}}},
		{"two-comments", "dropped: a->b: rule r: drop (always)\nreviewed by me", true,
			[]hub.ParsedNote{{Link: "a->b", Rule: "r", Action: "drop", Detail: "always"}, {Detail: "reviewed by me"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dropped, got := hub.ParseNotes(tt.comment, 64)
			if dropped != tt.dropped || !slices.Equal(got, tt.want) {
				t.Errorf("got ParseNotes(%q) = %v, %+v, want %v, %+v", tt.comment, dropped, got, tt.dropped, tt.want)
			}
		})
	}
}

func TestNoteReason(t *testing.T) {
	n := hub.ParsedNote{Link: "a->b", Rule: "loss", Action: "drop", Detail: "p=0.1"}
	if got, want := n.Reason(), "rule loss: drop (p=0.1)"; got != want {
		t.Errorf("got reason %q, want %q", got, want)
	}
	if got := n.To(); got != "b" {
		t.Errorf("got To() = %q, want b", got)
	}
}

// TestParseNotesReadsWhatAppendNotesWrites: notes as the hub and the
// policy write them come back with their link, rule, action and detail,
// and a comment holding more notes than the limit gives the limit.
func TestParseNotesReadsWhatAppendNotesWrites(t *testing.T) {
	notes := []hub.Note{
		{Link: "a->b", Rule: "split", Action: "partition", Args: hub.NoteArgs{Layout: "%s", S: "a|b"}},
		{Link: "a->c", Action: "down", Args: hub.NoteArgs{Layout: "port %s", S: "c"}},
		{Link: "b->c", Action: "queue-full"},
	}
	dropped, got := hub.ParseNotes("dropped: "+hub.FormatNotes(notes), 64)
	want := []hub.ParsedNote{
		{Link: "a->b", Rule: "split", Action: "partition", Detail: "a|b"},
		{Link: "a->c", Action: "down", Detail: "port c"},
		{Link: "b->c", Action: "queue-full"},
	}
	if !dropped || !slices.Equal(got, want) {
		t.Errorf("ParseNotes(FormatNotes(%v)) = %v, %+v; want true, %+v", notes, dropped, got, want)
	}
	for _, n := range want {
		if !hub.IsDropAction(n.Action) {
			t.Errorf("IsDropAction(%q) = false", n.Action)
		}
	}
	if hub.IsDropAction("delay") || hub.IsDropAction("duplicate") {
		t.Error("a delay or a duplicate counts as a drop")
	}
	if _, got := hub.ParseNotes(hub.FormatNotes(append(notes, notes...)), 4); len(got) != 4 {
		t.Errorf("with a limit of 4: %d notes", len(got))
	}
}
