package report

import (
	"l2hub/capture"
	"l2hub/hub"
)

// A note is one reason in a capture comment, read back (hub.ParseNotes).
type note = hub.ParsedNote

// delayActions hold a copy back: a delay rule, or a rate limiter's queue.
var delayActions = map[string]bool{"delay": true, "queue": true}

// maxNotes bounds the notes read from one comment; the rest are counted
// and a warning says so. A frame flooded into a partition has one note
// per link it did not cross: two per port at the default 256 ports.
const maxNotes = 2 * DefaultMaxPorts

// maxNoteText bounds the text of one comment read for its notes: four
// times the most the hub writes (capture.MaxComment), past which no note
// an l2hub capture holds can be. Limits.MaxComment cuts only what is
// shown.
const maxNoteText = 4 * capture.MaxComment

// parseComment reads a capture comment: whether it says "dropped", and its
// notes (at most maxNotes); more says some were left out.
func parseComment(c string) (dropped bool, notes []note, more bool) {
	dropped, notes = hub.ParseNotes(c, maxNotes+1)
	if len(notes) > maxNotes {
		return dropped, notes[:maxNotes], true
	}
	return dropped, notes, false
}
