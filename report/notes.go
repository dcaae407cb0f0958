package report

import (
	"strings"
	"time"

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

// maxHeld bounds the wait the notes may say a copy was held for, and each
// time in them: a policy's times are at most a day (a crafted note's years
// would put its frame years before the capture).
const maxHeld = 24 * time.Hour

// heldFor is how long a delay or queue note says its copy waited: a delay
// rule's max(fixed+draw, 0) and what FIFO order added ("20ms", "20ms±5ms
// uniform draw=-2.576406ms fifo+1ms"), a rate rule's wait ("rate=10Mbit
// wait=173.6µs"). ok is false when the note does not say, or says more
// than maxHeld.
func heldFor(n note) (wait time.Duration, ok bool) {
	if wait, ok = noteWait(n); !ok || wait < 0 || wait > maxHeld {
		return 0, false
	}
	return wait, true
}

func noteWait(n note) (time.Duration, bool) {
	fields := strings.Fields(n.Detail)
	word := func(prefix string) (time.Duration, bool, bool) {
		for _, f := range fields {
			if v, found := strings.CutPrefix(f, prefix); found {
				d, err := time.ParseDuration(v)
				return d, true, err == nil && d >= -maxHeld && d <= maxHeld
			}
		}
		return 0, false, true
	}
	switch n.Action {
	case "queue":
		w, found, ok := word("wait=")
		return w, found && ok
	case "delay":
		if len(fields) == 0 {
			return 0, false
		}
		fixedText, _, jitter := strings.Cut(fields[0], "±")
		fixed, err := time.ParseDuration(fixedText)
		if err != nil || fixed < 0 || fixed > maxHeld {
			return 0, false
		}
		draw, drawn, ok1 := word("draw=")
		held, _, ok2 := word("fifo+")
		if jitter != drawn || !ok1 || !ok2 {
			return 0, false
		}
		return max(fixed+draw, 0) + held, true
	}
	return 0, false
}
