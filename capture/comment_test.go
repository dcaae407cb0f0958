package capture

import (
	"testing"

	"l2hub/hub"
)

// TestAppendCommentIsTheCapturesComment: what a logger gets from
// AppendComment is what the capture writes.
func TestAppendCommentIsTheCapturesComment(t *testing.T) {
	ev := &hub.Event{Dropped: true, Notes: []hub.Note{
		{Link: "a->b", Rule: "loss-a", Action: "drop", Detail: "p=0.05 draw=0.0213"},
		{Link: "a->c", Action: "partition", Detail: "split"},
	}}
	want := "dropped: a->b: rule loss-a: drop (p=0.05 draw=0.0213); a->c: partition (split)"
	buf := []byte("old")
	if got := string(AppendComment(buf[:0], ev)); got != want {
		t.Errorf("got AppendComment = %q, want %q", got, want)
	}
	if got := string(appendComment(nil, ev)); got != want {
		t.Errorf("got appendComment = %q, want %q", got, want)
	}
}
