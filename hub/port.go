package hub

// PortIO is what attaches to a port: a QEMU connection, a datagram socket, a
// TAP device, an in-process network stack. Implementations live in package tap.
//
// ReadFrame and WriteFrame are called from different goroutines (one reader,
// one writer), never concurrently with themselves. Close may be called from
// any goroutine, at most once by the hub, and must unblock a pending
// ReadFrame; afterwards both return net.ErrClosed.
type PortIO interface {
	// ReadFrame reads exactly one Ethernet frame (no FCS, no vnet header) into
	// buf and returns its length. A frame longer than len(buf) is an error
	// (ErrFrameTooLarge, or a *FrameError when the transport can skip it).
	ReadFrame(buf []byte) (int, error)
	// WriteFrame sends one frame. It must not retain frame.
	WriteFrame(frame []byte) error
	// Close releases the transport.
	Close() error
}

// A BatchWriter is a PortIO that can send several frames with one system
// call. When frames queue up for a port, its writer hands them over together;
// the peer sees exactly what one WriteFrame per frame would have sent.
// WriteFrames must not retain frames or their bytes. Its error, like
// WriteFrame's, may be a *FrameError (the frames were not sent, the
// transport is fine); any other error ends the attachment.
type BatchWriter interface {
	WriteFrames(frames [][]byte) error
}

// A BatchReader is a PortIO that can hand over several frames per wake-up.
// ReadFrames blocks until a frame arrives, reads it and then every further
// whole frame the transport already holds, without waiting for more, up to
// len(frames). Each is read straight into a new Frame (NewFrame), which the
// caller owns. It returns how many frames it stored: either n > 0 and a nil
// error, or 0 and the error ReadFrame would have returned, where max plays
// the part of len(buf). A frame it cannot deliver after others in the same
// call is left for the next call.
type BatchReader interface {
	ReadFrames(frames []*Frame, max int) (int, error)
}

// A Describer is a PortIO that can say what it is attached to, for logs and
// capture interface descriptions ("tcp 127.0.0.1:7001 from 127.0.0.1:53122").
type Describer interface {
	Describe() string
}

// PortID identifies a port within one Core. IDs are never reused.
type PortID int32

// NoPort is the zero value for "no port".
const NoPort PortID = -1

// DropReason says why a frame was not forwarded or not delivered.
type DropReason uint8

const (
	DropNone      DropReason = iota
	DropRunt                 // shorter than an Ethernet header (14 bytes)
	DropOversize             // longer than the configured maximum
	DropQueueFull            // the egress queue was full (tail drop)
	DropDown                 // the egress port has no peer attached
	DropPolicy               // a policy rule dropped it
	DropReflect              // the destination was the ingress port (switch mode)
	DropWrite                // the transport failed to write it
	DropForeign              // a datagram from an address that is not the port's peer
	DropDelayFull            // too many frames were waiting for a delay (CoreConfig.MaxDelayed*)
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	DropNone:      "none",
	DropRunt:      "runt",
	DropOversize:  "oversize",
	DropQueueFull: "queue-full",
	DropDown:      "port-down",
	DropPolicy:    "policy",
	DropReflect:   "reflect",
	DropWrite:     "write-error",
	DropForeign:   "foreign-source",
	DropDelayFull: "delay-full",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// DropReasons lists every reason, in counter order.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, numDropReasons-1)
	for r := DropRunt; r < numDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}
