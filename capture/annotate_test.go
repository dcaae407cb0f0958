package capture

import (
	"strings"
	"testing"

	"l2hub/hub"
)

// An annotation lands, on a line of its own, in the comment of the next
// packet record only: after a dropped frame's notes (which keep their
// "dropped" prefix), or alone on a frame no rule touched.
func TestAnnotate(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	f := frame(60, 1, 2, 1)
	drop := hub.Note{Link: "a->b", Rule: "split", Action: "partition"}
	run(s, []step{addPort(0, "a", ""), addPort(1, "b", "")})
	s.Annotate("control: partition split a|b started at 1s")
	run(s, []step{event(0, 0, "a", hub.Ingress, f, true, drop), event(1, 0, "a", hub.Ingress, f, true, drop)})
	s.Annotate("control: partition split healed at 4s")
	s.Annotate("control: link b down at 4s")
	run(s, []step{event(2, 1, "b", hub.Ingress, f, false), event(3, 1, "b", hub.Ingress, f, false)})
	mustClose(t, s)

	got, _ := readAll(t, fs.file(t, cfg.Path))
	want := []string{
		"dropped: a->b: rule split: partition\ncontrol: partition split a|b started at 1s",
		"dropped: a->b: rule split: partition",
		"control: partition split healed at 4s\ncontrol: link b down at 4s",
		"",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.Comment != want[i] {
			t.Errorf("got packet %d comment %q, want %q", i+1, p.Comment, want[i])
		}
	}
}

// An annotation is bounded: however long, the comment stays within
// MaxComment.
func TestAnnotateBounded(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	for range 4 {
		s.Annotate(strings.Repeat("x", MaxComment))
	}
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 || len(got[0].Comment) > MaxComment || !strings.HasPrefix(got[0].Comment, "xxx") {
		t.Errorf("got %d packets, comment of %d bytes, want 1 packet with a comment of at most %d", len(got), len(got[0].Comment), MaxComment)
	}
}
