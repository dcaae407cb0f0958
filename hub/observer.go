package hub

import "time"

// Direction says whether an Event is a frame entering the hub from a port or
// leaving the hub towards one.
type Direction uint8

const (
	Ingress Direction = iota // sent by the peer on Port, before any policy
	Egress                   // delivered to the peer on Port's egress queue
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// Event is one frame seen at one capture point.
type Event struct {
	Time     time.Time // the hub clock's time of the event
	Port     PortID
	PortName string
	Dir      Direction
	// Frame is only valid during the call; observers must copy what they keep.
	Frame []byte
	// Dropped is set on an ingress event when no link delivered the frame
	// because of policy, and on an egress event when the port's queue was
	// full (a tail drop: the peer never got it). Notes say why.
	Dropped bool
	// Notes are the reasons rules acted on this frame: for an ingress event,
	// every link's notes (each Note.Link set); for an egress event, those of
	// this delivery (delay, duplicate, corrupt, queue-full). Like Frame, they
	// are only valid during the call.
	Notes []Note
	// Injected marks the egress event of a frame no port sent (Core.Inject:
	// the control API's, a replay's): an input of the run as much as an
	// ingress event is, which a record of the inputs keeps.
	Injected bool
}

// Comment formats e.Notes for a capture comment; "" when no rule acted.
func (e *Event) Comment() string {
	if len(e.Notes) == 0 {
		return ""
	}
	return FormatNotes(e.Notes)
}

// Observer sees every frame at the capture points, on the hub loop. It must
// not block: a capture hands the bytes to its own writer goroutine.
type Observer interface {
	Observe(ev *Event)
}

// PortInfo describes a port to observers that need the list up front, such as
// a pcapng writer emitting one interface per port.
type PortInfo struct {
	ID          PortID
	Name        string
	Description string // transport and address: "tcp 127.0.0.1:7001"
}

// A PortObserver is told about each port when it is added, before any Event
// on it. Observers that do not care need not implement it.
type PortObserver interface {
	PortAdded(p PortInfo)
}
