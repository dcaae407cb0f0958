package hub

import "time"

// A Link is an ordered pair of ports: frames cross it from From to To.
// Policies key their state and random streams on the names, never the IDs,
// so adding a port does not shift another link's decisions (the README's D1).
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

// A Gate is a policy whose links can be cut while a frame waits out its
// delay (a port's link taken down, a partition started): the core asks it
// again when a delayed copy is due, giving the time the copy was decided
// (sent) and the time it is due (now), and drops the copy if the link was
// cut at any time from sent to now, as a frame on a wire that is cut is
// lost, even if the wire is whole again when it would have arrived. A
// policy answers only for the time it was in force: for a copy that waited
// across a Core.SetPolicy, the policy replaced is asked at the switch, from
// sent to the switch, and the new one when the copy is due, from the
// switch to now (both ask about the switch's instant), so sent may be
// later than the copy was decided and now earlier than it is due. Cut
// must not count the frame against any rule: it was decided already. When
// cut, note says why; it goes with the dropped copy's egress event, whose
// port names the link. For a frame injected into a port (Core.Inject),
// which has no sender, the core asks about the port's own link at one
// instant (sent and now alike), From and To both the port: cut then means
// the port's link is down, as no partition separates a port from itself.
type Gate interface {
	Cut(sent, now time.Duration, link Link) (note Note, cut bool)
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

// A Decision, its Copies and their Notes and Frames belong to the policy
// until its next Decide: the core copies out what it keeps (notes of delayed
// copies, corrupted bytes), so a policy may build them in scratch space it
// reuses, and a frame a rule acts on costs no allocation.

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
	// Nil means the original. The core copies it.
	Frame []byte
	// Notes that apply to this copy alone (delayed by how much, corrupted
	// which bits); shown with the copy when it is delivered.
	Notes []Note
}
