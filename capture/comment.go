package capture

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"l2hub/hub"
)

// droppedPrefix starts the comment of a frame no link delivered, so that a
// display filter (frame.comment contains "dropped") finds every loss.
const droppedPrefix = "dropped"

// commentLen is the length appendComment will produce for ev, before the
// MaxComment cut. Notes format their details on demand, so it formats them
// (into a buffer on the stack, for any comment of ordinary length).
func commentLen(ev *hub.Event) int {
	if !ev.Dropped && len(ev.Notes) == 0 {
		return 0
	}
	var buf [512]byte
	return len(appendNotes(buf[:0], ev))
}

// appendNotes appends ev's comment before the cut: "dropped", then ": " and
// hub.AppendNotes of ev.Notes.
func appendNotes(b []byte, ev *hub.Event) []byte {
	if ev.Dropped {
		b = append(b, droppedPrefix...)
		if len(ev.Notes) > 0 {
			b = append(b, ": "...)
		}
	}
	return hub.AppendNotes(b, ev.Notes)
}

// appendComment appends ev's comment: hub.FormatNotes(ev.Notes), preceded by
// "dropped: " when no link delivered the frame, without allocating. The
// result is cut to MaxComment bytes.
func appendComment(b []byte, ev *hub.Event) []byte {
	start := len(b)
	b = appendNotes(b, ev)
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

// validText returns s with every byte that is not part of valid UTF-8
// written as the text \xNN: pcapng's text options are UTF-8, and a port
// address with a stray byte (a socket path) still shows which byte. Valid
// text is returned as it is, without allocating.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// cutRunes cuts s to at most n bytes, never inside a UTF-8 sequence.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AppendComment appends the comment a capture records with ev: what
// hub.FormatNotes makes of ev.Notes, after "dropped: " when no link delivered
// the frame, cut to MaxComment bytes. It allocates only to grow b, so that a
// logger on the hub loop can reuse one buffer.
func AppendComment(b []byte, ev *hub.Event) []byte { return appendComment(b, ev) }
