package hub

import (
	"strings"
	"time"
)

// A Link is an ordered pair of ports: frames cross it from From to To.
// Policies key their state and random streams on the names, never the IDs,
// so adding a port does not shift another link's decisions (DESIGN.md D1).
type Link struct {
	From, To         PortID
	FromName, ToName string
}

func (l Link) String() string { return l.FromName + "->" + l.ToName }

// Policy decides what happens to a frame on one link. The core calls Decide
// once per (frame, link), on the hub loop, in the order frames arrive and, for
// a flood, in destination port-name order.
type Policy interface {
	// Decide fills d for frame crossing link at now, the time elapsed since
	// the core started. d arrives reset (deliver once, immediately,
	// unmodified). Decide must not retain frame or d.
	Decide(now time.Duration, link Link, frame []byte, d *Decision)
}

// Decision is a policy's ruling on one frame on one link. The zero value (and
// the state the core resets it to) means: deliver one unmodified copy now.
type Decision struct {
	// Drop discards the frame on this link. Copies is ignored.
	Drop bool
	// Copies lists the deliveries when there is anything other than one
	// immediate, unmodified copy (delay, duplication, corruption). Empty means
	// one immediate copy.
	Copies []Copy
	// Notes explain every action a rule took; the core passes them to
	// observers (captures, checkers) and never interprets them.
	Notes []Note
}

// Reset returns d to "deliver once, now", keeping its slices' capacity.
func (d *Decision) Reset() {
	d.Drop = false
	d.Copies = d.Copies[:0]
	d.Notes = d.Notes[:0]
}

// Copy is one delivery of a frame on a link.
type Copy struct {
	// Delay after the decision before the copy reaches the egress queue.
	Delay time.Duration
	// Frame replaces the original bytes for this copy (a corrupted frame).
	// Nil means the original. The core takes ownership of a non-nil Frame.
	Frame []byte
	// Notes that apply to this copy alone (delayed by how much, corrupted
	// which bits); shown with the copy when it is delivered.
	Notes []Note
}

// Note says why a rule acted on a frame: "rule loss-a: drop (p=0.05 draw=0.0213)".
type Note struct {
	Link   string // "a->b"; filled by the core when it aggregates notes
	Rule   string // rule name ("" for the hub itself, e.g. partitions by API)
	Action string // drop, delay, duplicate, corrupt, queue, overflow, partition, down, mtu, reorder
	Detail string // the parameters and the draw, for people
}

func (n Note) String() string {
	var b strings.Builder
	n.appendTo(&b)
	return b.String()
}

func (n Note) appendTo(b *strings.Builder) {
	if n.Link != "" {
		b.WriteString(n.Link)
		b.WriteString(": ")
	}
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
}

// FormatNotes joins notes into one line, "; "-separated, as captures show them.
func FormatNotes(notes []Note) string {
	var b strings.Builder
	for i, n := range notes {
		if i > 0 {
			b.WriteString("; ")
		}
		n.appendTo(&b)
	}
	return b.String()
}
