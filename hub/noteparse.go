package hub

import "strings"

// Reading notes back from a capture's comments, the inverse of AppendTo
// and AppendNotes, for the tools that read captures (the report, the lab's
// wire hints).

// A ParsedNote is one note read back from its text: "a->b: rule loss-a:
// drop (p=0.05 draw=0.0213)" gives Link a->b, Rule loss-a, Action drop and
// Detail "p=0.05 draw=0.0213". Link is empty on an egress record's notes,
// Rule on the hub's own actions (queue-full). Text that does not read as a
// note is kept whole as a Detail.
type ParsedNote struct {
	Link   string
	Rule   string
	Action string
	Detail string
}

// Reason is the note without its link, as a drop is explained: "rule
// loss-a: drop (p=0.05 draw=0.0213)".
func (n ParsedNote) Reason() string {
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

// To returns the receiving port of the note's link ("a->b" gives "b").
func (n ParsedNote) To() string {
	_, to, _ := strings.Cut(n.Link, "->")
	return to
}

// IsDropAction reports whether a note's action means its link delivered
// nothing: the policy's drops (drop, partition, down, mtu, overflow) and
// the hub's own (queue-full, stalled, backlog-full, delay-full).
func IsDropAction(action string) bool {
	switch action {
	case "drop", "partition", "down", "mtu", "overflow", "queue-full", "stalled", "backlog-full", "delay-full":
		return true
	}
	return false
}

// ParseNotes reads a capture comment (several comments joined by "\n"
// count as one): whether a line starts with "dropped" (no link delivered
// the frame), and its notes, at most limit of them. Text it cannot read as a
// note becomes a note with only a Detail, so nothing a comment says is
// lost.
func ParseNotes(c string, limit int) (dropped bool, notes []ParsedNote) {
	for line := range strings.SplitSeq(c, "\n") {
		if rest, ok := strings.CutPrefix(line, "dropped"); ok && (rest == "" || strings.HasPrefix(rest, ": ")) {
			dropped = true
			line = strings.TrimPrefix(rest, ": ")
		}
		for _, part := range splitNotes(line) {
			if len(notes) == limit {
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

func parseNote(s string) ParsedNote {
	var n ParsedNote
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
		return ParsedNote{Link: n.Link, Rule: n.Rule, Detail: s}
	}
	n.Action, n.Detail = action, detail
	return n
}

// isLink reports whether s reads as "from->to" with no spaces.
func isLink(s string) bool {
	from, to, ok := strings.Cut(s, "->")
	return ok && from != "" && to != "" && !strings.ContainsAny(s, " :;")
}
