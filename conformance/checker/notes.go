package checker

import (
	"strings"
	"time"

	"l2hub/hub"
)

// The hub's notes on a frame, as a capture's comment shows them
// (capture.AppendComment: "dropped: " when no link delivered the frame,
// then hub.AppendNotes), maybe followed by further lines the capture adds
// (a gap, control-API edits, peer events). Live events' notes are formatted
// the same way (Observe). hub.ParseNotes reads them, as the other tools
// that read captures do: lines end notes, "; " splits them outside
// parentheses, and text that is not a note has no Action.

// maxNotes bounds the notes read from one comment; a capture comment is at
// most capture.MaxComment (16 KiB) long.
const maxNotes = 1024

func parseNotes(why string) []hub.ParsedNote {
	if why == "" {
		return nil
	}
	_, notes := hub.ParseNotes(why, maxNotes)
	return notes
}

// droppedOnLink reports whether why says the hub delivered nothing on the
// link from->to: a note of that link whose action is a drop
// (hub.IsDropAction: the policy's drop, MTU, partition, port-down and
// rate-queue overflow, the hub's full queues).
func droppedOnLink(why, from, to string) bool {
	for _, n := range parseNotes(why) {
		f, t, ok := strings.Cut(n.Link, "->")
		if ok && f == from && t == to && hub.IsDropAction(n.Action) {
			return true
		}
	}
	return false
}

// corrupted reports whether why has a corrupt note: the hub flipped bits
// of this copy.
func corrupted(why string) bool {
	for _, n := range parseNotes(why) {
		if n.Action == "corrupt" {
			return true
		}
	}
	return false
}

// heldFor is how long the hub held a copy before its egress, by its delay
// and rate-queue notes: a delay note's detail is "BASE", "BASE±JITTER
// uniform|normal draw=±D", each maybe followed by " fifo+HELD"; a queue
// note's is "rate=R wait=W". A delay is max(BASE+D, 0) + HELD, as the
// hub holds it (filter's delay: a draw below zero is no delay, and the
// fifo wait comes after).
func heldFor(why string) time.Duration {
	var total time.Duration
	for _, n := range parseNotes(why) {
		switch n.Action {
		case "delay":
			// As the hub draws it: the delay, not below zero, then
			// the wait behind the copies before it (fifo).
			var delay, fifo time.Duration
			for i, field := range strings.Fields(n.Detail) {
				switch {
				case i == 0:
					base, _, _ := strings.Cut(field, "±")
					delay += duration(base)
				case strings.HasPrefix(field, "draw="):
					delay += duration(field[len("draw="):])
				case strings.HasPrefix(field, "fifo+"):
					fifo += duration(field[len("fifo+"):])
				}
			}
			total += max(delay, 0) + fifo
		case "queue":
			for _, field := range strings.Fields(n.Detail) {
				if w, ok := strings.CutPrefix(field, "wait="); ok {
					total += duration(w)
				}
			}
		}
	}
	return max(total, 0)
}

// duration parses a time.Duration's text; 0 if it is not one.
func duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}
