package report

import "strings"

// A note is one reason in a capture comment, as hub.Note.AppendTo writes it:
// "a->b: rule loss-a: drop (p=0.05 draw=0.0213)". Link is empty on an
// egress record's notes, Rule for the hub's own actions (queue-full).
type note struct {
	Link   string
	Rule   string
	Action string
	Detail string
}

// reason is the note without its link, as a drop's cross shows it:
// "rule loss-a: drop (p=0.05 draw=0.0213)".
func (n note) reason() string {
	var b strings.Builder
	if n.Rule != "" {
		b.WriteString("rule ")
		b.WriteString(n.Rule)
		b.WriteString(": ")
	}
	b.WriteString(n.Action)
	if n.Detail != "" {
		b.WriteString(" (")
		b.WriteString(n.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// to returns the receiving port of the note's link ("a->b" gives "b").
func (n note) to() string {
	_, to, _ := strings.Cut(n.Link, "->")
	return to
}

// dropActions are the actions after which a link delivers nothing: the
// policy's (filter) and the hub's own (flow control, the delay heap).
var dropActions = map[string]bool{
	"drop": true, "partition": true, "down": true, "mtu": true, "overflow": true,
	"queue-full": true, "stalled": true, "backlog-full": true, "delay-full": true,
}

// delayActions hold a copy back: a delay rule, or a rate limiter's queue.
var delayActions = map[string]bool{"delay": true, "queue": true}

// maxNotes bounds the notes read from one comment; the rest are ignored.
const maxNotes = 64

// parseComment reads a capture comment (several comments joined by "\n"
// count as one): whether it starts with "dropped", and its notes. Text it
// cannot read as a note becomes a note with only a Detail, so nothing a
// comment says is lost.
func parseComment(c string) (dropped bool, notes []note) {
	for line := range strings.SplitSeq(c, "\n") {
		if rest, ok := strings.CutPrefix(line, "dropped"); ok && (rest == "" || strings.HasPrefix(rest, ": ")) {
			dropped = true
			line = strings.TrimPrefix(rest, ": ")
		}
		for _, part := range splitNotes(line) {
			if len(notes) == maxNotes {
				return dropped, notes
			}
			if part != "" {
				notes = append(notes, parseNote(part))
			}
		}
	}
	return dropped, notes
}

// splitNotes splits at "; " outside parentheses: a detail may hold any text.
func splitNotes(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth = max(depth-1, 0)
		case ';':
			if depth == 0 && i+1 < len(s) && s[i+1] == ' ' {
				out = append(out, s[start:i])
				start = i + 2
				i++
			}
		}
	}
	return append(out, s[start:])
}

func parseNote(s string) note {
	var n note
	if head, rest, ok := strings.Cut(s, ": "); ok && isLink(head) {
		n.Link, s = head, rest
	}
	if rest, ok := strings.CutPrefix(s, "rule "); ok {
		if name, after, ok := strings.Cut(rest, ": "); ok && !strings.ContainsAny(name, " ()") {
			n.Rule, s = name, after
		}
	}
	action, detail, ok := strings.Cut(s, " (")
	if ok && strings.HasSuffix(detail, ")") {
		detail = detail[:len(detail)-1]
	} else {
		action, detail = s, ""
	}
	if strings.ContainsAny(action, " :") { // not an action word: keep the text
		return note{Link: n.Link, Rule: n.Rule, Detail: s}
	}
	n.Action, n.Detail = action, detail
	return n
}

// isLink reports whether s reads as "from->to" with no spaces.
func isLink(s string) bool {
	from, to, ok := strings.Cut(s, "->")
	return ok && from != "" && to != "" && !strings.ContainsAny(s, " :;")
}
