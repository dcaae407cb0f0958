package capture

import (
	"unicode/utf8"

	"l2hub/hub"
)

// droppedPrefix starts the comment of a frame no link delivered, so that a
// display filter (frame.comment contains "dropped") finds every loss.
const droppedPrefix = "dropped"

// commentLen is the length appendComment will produce for ev, before the
// MaxComment cut.
func commentLen(ev *hub.Event) int {
	n := 0
	if ev.Dropped {
		n = len(droppedPrefix)
		if len(ev.Notes) > 0 {
			n += 2
		}
	}
	for i := range ev.Notes {
		nt := &ev.Notes[i]
		if i > 0 {
			n += 2
		}
		if nt.Link != "" {
			n += len(nt.Link) + 2
		}
		if nt.Rule != "" {
			n += len("rule ") + len(nt.Rule) + 2
		}
		n += len(nt.Action)
		if nt.Detail != "" {
			n += len(nt.Detail) + 3
		}
	}
	return n
}

// appendComment appends ev's comment: hub.FormatNotes(ev.Notes), preceded by
// "dropped: " when no link delivered the frame, without allocating. The
// result is cut to MaxComment bytes.
func appendComment(b []byte, ev *hub.Event) []byte {
	start := len(b)
	if ev.Dropped {
		b = append(b, droppedPrefix...)
		if len(ev.Notes) > 0 {
			b = append(b, ": "...)
		}
	}
	for i := range ev.Notes {
		nt := &ev.Notes[i]
		if i > 0 {
			b = append(b, "; "...)
		}
		if nt.Link != "" {
			b = append(b, nt.Link...)
			b = append(b, ": "...)
		}
		if nt.Rule != "" {
			b = append(b, "rule "...)
			b = append(b, nt.Rule...)
			b = append(b, ": "...)
		}
		b = append(b, nt.Action...)
		if nt.Detail != "" {
			b = append(b, " ("...)
			b = append(b, nt.Detail...)
			b = append(b, ')')
		}
	}
	if len(b)-start > MaxComment {
		b = b[:start+len(cutText(b[start:], MaxComment))]
	}
	return b
}

// cutText shortens s in place to at most max bytes (max >= 3), ending in "..."
// and never splitting a UTF-8 sequence.
func cutText(s []byte, max int) []byte {
	if len(s) <= max {
		return s
	}
	n := max - 3
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return append(s[:n], "..."...)
}

// AppendComment appends the comment a capture records with ev: what
// hub.FormatNotes makes of ev.Notes, after "dropped: " when no link delivered
// the frame, cut to MaxComment bytes. It allocates only to grow b, so that a
// logger on the hub loop can reuse one buffer.
func AppendComment(b []byte, ev *hub.Event) []byte { return appendComment(b, ev) }
