package hub

import (
	"errors"
	"fmt"
)

var (
	// ErrFrameTooLarge reports a frame, or a stream length prefix, above the
	// configured maximum. On a stream it is fatal for that connection, because
	// the framing can no longer be trusted.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrPortBusy is returned by Attach when the port already has a peer.
	ErrPortBusy = errors.New("port already has a peer attached")
	// ErrNoPort is returned for a port name the hub does not have.
	ErrNoPort = errors.New("no such port")
	// ErrPortExists is returned when adding a port whose name is taken.
	ErrPortExists = errors.New("port name already in use")
	// ErrStopped is returned by calls made after the hub loop has stopped.
	ErrStopped = errors.New("hub stopped")
)

// A FrameError reports one bad frame that a transport discarded while the
// connection itself remains usable (a runt datagram, an oversized datagram).
// The reader counts it under Reason and reads on.
type FrameError struct {
	Reason DropReason
	Len    int // length of the discarded frame, or of its claimed size
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("discarded %d-byte frame: %s", e.Len, e.Reason)
}
