package report

import "l2hub/hub"

// A note is one reason in a capture comment, read back (hub.ParseNotes).
type note = hub.ParsedNote

// delayActions hold a copy back: a delay rule, or a rate limiter's queue.
var delayActions = map[string]bool{"delay": true, "queue": true}

// maxNotes bounds the notes read from one comment; the rest are ignored.
const maxNotes = 64

// parseComment reads a capture comment: whether it says "dropped", and its
// notes.
func parseComment(c string) (dropped bool, notes []note) { return hub.ParseNotes(c, maxNotes) }
