package hub

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// PeerEvent is a port's peer attaching or detaching: a VM connecting,
// going away, or reconnecting. It is ordered with the port's frames, so a
// capture can say when a port had no VM to deliver to, and a replay can
// take the port down and up again at the same times.
type PeerEvent struct {
	At       time.Duration // policy time: since the core's start
	Port     PortID
	PortName string
	Peer     string // the transport's description of the peer
	Attached bool
	Reason   string // why it detached ("read: EOF"); empty on attach
}

// A PeerObserver is told when a port's peer attaches or detaches, on the
// hub loop, in order with Events. Observers that do not care need not
// implement it.
type PeerObserver interface {
	PeerChanged(ev PeerEvent)
}

// NotePeer tells the observers that port id's peer (described by peer)
// attached or, with why, detached, at policy time at. The live Hub calls
// it as peers come and go (at the core's Elapsed); a replay calls it as its
// capture's peer records say, at their times.
func (c *Core) NotePeer(id PortID, at time.Duration, peer string, attached bool, why string) {
	p := c.port(id)
	if p == nil {
		return
	}
	ev := PeerEvent{At: at, Port: id, PortName: p.name, Peer: clipPeerText(peer), Attached: attached, Reason: clipPeerText(why)}
	for _, o := range c.observers {
		if po, ok := o.(PeerObserver); ok {
			po.PeerChanged(ev)
		}
	}
}

// PeerPrefix starts the comment line that records a PeerEvent in a
// capture: PeerPrefix and a PeerRecord in JSON, after the line a person
// reads (PeerEvent.Comment).
const PeerPrefix = "l2hub-peer "

// PeerRecord is what a capture keeps of a PeerEvent for a replay: all of
// it but the port's ID, so a replay writes the same comment again.
type PeerRecord struct {
	Port     string        `json:"port"`
	Attached bool          `json:"attached"`
	At       time.Duration `json:"at"` // policy time, nanoseconds
	Peer     string        `json:"peer,omitempty"`
	Reason   string        `json:"reason,omitempty"`
}

// maxPeerText bounds a recorded peer description or reason.
const maxPeerText = 256

// clipPeerText makes s fit a record: one line (control characters become
// spaces: the comment's person line must stay one line) of at most
// maxPeerText bytes, cut on a character boundary.
func clipPeerText(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	if len(s) <= maxPeerText {
		return s
	}
	return strings.ToValidUTF8(s[:maxPeerText-3], "") + "..."
}

// maxPeerAt bounds a recorded time: a century, far beyond any run and far
// below where a clock reading plus it would overflow.
const maxPeerAt = 100 * 365 * 24 * time.Hour

// Comment returns ev as capture comment lines: one a person reads ("hub at
// 1.5s: port b detached (read: EOF)") and PeerPrefix with the PeerRecord.
func (ev PeerEvent) Comment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hub at %s: port %s ", ev.At.Round(time.Millisecond), ev.PortName)
	if ev.Attached {
		b.WriteString("attached")
		if ev.Peer != "" {
			b.WriteString(" (" + ev.Peer + ")")
		}
	} else {
		b.WriteString("detached")
		if ev.Reason != "" {
			b.WriteString(" (" + ev.Reason + ")")
		}
	}
	b.WriteByte('\n')
	b.WriteString(PeerPrefix)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(PeerRecord{Port: ev.PortName, Attached: ev.Attached, At: ev.At, Peer: ev.Peer, Reason: ev.Reason}); err != nil {
		panic(err) // a string, a bool and an integer: never
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ParsePeers returns the PeerRecords a capture comment holds, in order,
// and an error for each line that starts with PeerPrefix but does not hold
// a valid one (a comment cut short, a hand-edited file).
func ParsePeers(comment string) ([]PeerRecord, []error) {
	if !strings.Contains(comment, PeerPrefix) {
		return nil, nil
	}
	var recs []PeerRecord
	var errs []error
	for line := range strings.Lines(comment) {
		text, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), PeerPrefix)
		if !ok {
			continue
		}
		var r PeerRecord
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		switch err := dec.Decode(&r); {
		case err != nil:
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: %w", text, err))
		case dec.More():
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: text after the record", text))
		case r.Port == "":
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: no port", text))
		case r.At < 0 || r.At > maxPeerAt:
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: time %s out of range", text, r.At))
		case len(r.Peer) > maxPeerText || len(r.Reason) > maxPeerText:
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: description longer than %d bytes", text, maxPeerText))
		case strings.IndexFunc(r.Port+r.Peer+r.Reason, unicode.IsControl) >= 0:
			errs = append(errs, fmt.Errorf("recorded peer change %.60q: control characters in it", text))
		default:
			recs = append(recs, r)
		}
	}
	return recs, errs
}

// WithoutPeerNotes returns comment without the lines PeerEvent.Comment
// wrote: what the frame's own notes and the other annotations say.
func WithoutPeerNotes(comment string) string {
	if !strings.Contains(comment, PeerPrefix) {
		return comment
	}
	lines := strings.Split(comment, "\n")
	keep := lines[:0]
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, PeerPrefix):
		case i+1 < len(lines) && strings.HasPrefix(lines[i+1], PeerPrefix) && strings.HasPrefix(line, "hub at "):
		default:
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
