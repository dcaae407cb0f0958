package checker

import (
	"strings"
	"time"
)

// The hub's notes on a frame, as captures show them (hub.AppendNotes, after
// "dropped: " when no link delivered the frame): "; "-separated, each
// "[LINK: ][rule NAME: ]ACTION[ (DETAIL)]", for example
// "a->b: rule loss-a: drop (p=0.05 draw=0.0213)". A live event's notes are
// formatted the same way (Observe), so the checker reads one format.

// hubNote is one note's parts; they alias the text.
type hubNote struct {
	link, action, detail string
}

// eachNote calls fn with each note in why, until fn returns false.
func eachNote(why string, fn func(n hubNote) bool) {
	if rest, ok := strings.CutPrefix(why, "dropped"); ok {
		why = strings.TrimPrefix(rest, ": ")
	}
	for why != "" {
		var text string
		text, why, _ = strings.Cut(why, "; ")
		var n hubNote
		if link, rest, ok := strings.Cut(text, ": "); ok && strings.Contains(link, "->") {
			n.link, text = link, rest
		}
		if strings.HasPrefix(text, "rule ") {
			if _, rest, ok := strings.Cut(text, ": "); ok {
				text = rest
			}
		}
		n.action = text
		if action, detail, ok := strings.Cut(text, " ("); ok {
			n.action, n.detail = action, strings.TrimSuffix(detail, ")")
		}
		if !fn(n) {
			return
		}
	}
}

// droppedOnLink reports whether why says the hub dropped the frame on the
// link from->to: a policy's drop, MTU, partition or port-down note, which
// the core names with its link ("a->b").
func droppedOnLink(why, from, to string) bool {
	found := false
	eachNote(why, func(n hubNote) bool {
		f, t, ok := strings.Cut(n.link, "->")
		if !ok || f != from || t != to {
			return true
		}
		switch n.action {
		case "drop", "mtu", "partition", "down":
			found = true
		}
		return !found
	})
	return found
}

// corrupted reports whether why has a corrupt note: the hub flipped bits
// of this copy.
func corrupted(why string) bool {
	found := false
	eachNote(why, func(n hubNote) bool {
		found = n.action == "corrupt"
		return !found
	})
	return found
}

// heldFor is how long the hub held a copy before its egress, by its delay
// and rate-queue notes: a delay note's detail is "BASE", "BASE±JITTER
// uniform|normal draw=±D", each maybe followed by " fifo+HELD"; a queue
// note's is "rate=R wait=W".
func heldFor(why string) time.Duration {
	var total time.Duration
	eachNote(why, func(n hubNote) bool {
		switch n.action {
		case "delay":
			for i, field := range strings.Fields(n.detail) {
				switch {
				case i == 0:
					base, _, _ := strings.Cut(field, "±")
					total += duration(base)
				case strings.HasPrefix(field, "draw="):
					total += duration(field[len("draw="):])
				case strings.HasPrefix(field, "fifo+"):
					total += duration(field[len("fifo+"):])
				}
			}
		case "queue":
			for _, field := range strings.Fields(n.detail) {
				if w, ok := strings.CutPrefix(field, "wait="); ok {
					total += duration(w)
				}
			}
		}
		return true
	})
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
