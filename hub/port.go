package hub

import "errors"

// PortIO is what attaches to a port: a QEMU connection, a datagram socket, a
// TAP device, an in-process network stack. Implementations live in packages
// transport (sockets, the in-process netstack host) and tap (the host TAP
// device).
//
// ReadFrames and WriteFrames are called from different goroutines (one
// reader, one writer), never concurrently with themselves. Close may be
// called from any goroutine, at most once by the hub, and must unblock a
// pending ReadFrames and WriteFrames; afterwards WriteFrames returns
// net.ErrClosed, and ReadFrames hands over the frames the transport had
// already taken in (a datagram batch's rest, FrameErrors included, without
// waiting for more), then returns net.ErrClosed. The hub counts any of
// those it can no longer forward as dropped with the port down.
//
// Frames are owned, not borrowed: ReadFrames hands the caller new frames
// (NewFrame) with one reference each, and WriteFrames reads frames the caller
// keeps and must not retain them or their bytes.
type PortIO interface {
	// ReadFrames blocks until a frame arrives, reads it and then every
	// further whole frame the transport already holds, without waiting for
	// more, up to len(frames). Each frame is Ethernet (no FCS, no vnet
	// header) and at most max bytes long. It returns how many frames it
	// stored: either n > 0 and a nil error, or 0 and an error. A frame the
	// transport discarded while the connection stays usable (a runt, an
	// oversized datagram) is reported as a *FrameError, on its own; a frame
	// it cannot deliver after others in the same call is left for the next
	// call. A length prefix that can no longer be trusted wraps
	// ErrFrameTooLarge and ends the attachment, as does any other error.
	ReadFrames(frames []*Frame, max int) (int, error)
	// WriteFrames sends frames in order and returns how many it sent
	// before an error: on a nil error, all of them. A *FrameError means
	// frames[n] was discarded for its Reason while the transport stays
	// usable: the caller counts it and calls again with frames[n+1:]. Any
	// other error ends the attachment; frames[n:] were not sent.
	WriteFrames(frames []*Frame) (int, error)
	// Close releases the transport.
	Close() error
}

// A Describer is a PortIO that can say what it is attached to, for logs and
// capture interface descriptions ("tcp 127.0.0.1:7001 from 127.0.0.1:53122").
type Describer interface {
	Describe() string
}

// A KernelDropper is a PortIO whose kernel may drop frames before the hub
// reads them (a datagram socket with a full receive buffer cannot push back
// on its sender; an in-process host's NIC queue drops when full). KernelDrops returns how many it has dropped so far; the
// hub's reader counts the growth as DropKernel, so no loss is silent.
type KernelDropper interface {
	KernelDrops() uint64
}

// A RemoteLister is a PortIO that reaches several remote endpoints of its
// own, beyond the hub's view of one peer, and counts each: a VXLAN port's
// remote VTEPs. Remotes is called from any goroutine while the port reads
// and writes; Hub.Ports puts what it returns in PortStatus.Remotes.
type RemoteLister interface {
	Remotes() []RemoteStatus
}

// A PeerBacklog is a PortIO (or an EgressQueue) that can say how many bytes
// its peer has yet to take from buffers below the hub: a stream socket's
// kernel send queue (SIOCOUTQ). A write of many frames returns only once
// the kernel has room for the last of them, which it makes only when its
// peer has read a good part of a send buffer that may hold megabytes; a
// stall check that saw only finished writes would take a peer reading
// slowly but steadily for a stalled one. Any change of the backlog counts
// as the peer's progress. ok is false when the backlog cannot be read.
type PeerBacklog interface {
	PeerBacklog() (bytes int, ok bool)
}

// PortID identifies a port within one Core. IDs are never reused.
type PortID int32

// NoPort is the zero value for "no port".
const NoPort PortID = -1

// DropReason says why a frame was not forwarded or not delivered.
type DropReason uint8

const (
	DropNone         DropReason = iota
	DropRunt                    // shorter than an Ethernet header (14 bytes)
	DropOversize                // longer than the configured maximum
	DropQueueFull               // the egress queue was full (tail drop, a port with OverflowDrop)
	DropDown                    // the egress port has no peer attached
	DropPolicy                  // a policy rule dropped it
	DropReflect                 // the destination was the ingress port (switch mode)
	DropWrite                   // the transport failed to write it
	DropForeign                 // a datagram from an address that is not the port's peer
	DropDelayFull               // too many frames were waiting for a delay (CoreConfig.MaxDelayed*)
	DropStalled                 // the port's peer took nothing for the stall time; its frames are dropped until it drains
	DropBacklogFull             // a pausing port's backlog reached its bound (CoreConfig.Backlog*)
	DropKernel                  // the peer's side dropped it before the hub could read it (a socket buffer, a TAP device's queue or a virtual host's NIC queue full)
	DropSplitHorizon            // the destination is in the ingress port's split-horizon group
	DropEncap                   // a tunnel datagram whose encapsulation is malformed (VXLAN: short, bad flags)
	DropVNI                     // a tunnel datagram for another overlay (VXLAN: another VNI)
	DropOwnEcho                 // a tunnel datagram the port sent itself, come back to it (VXLAN: from its own address)
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	DropNone:         "none",
	DropRunt:         "runt",
	DropOversize:     "oversize",
	DropQueueFull:    "queue-full",
	DropDown:         "port-down",
	DropPolicy:       "policy",
	DropReflect:      "reflect",
	DropWrite:        "write-error",
	DropForeign:      "foreign-source",
	DropDelayFull:    "delay-full",
	DropStalled:      "stalled",
	DropBacklogFull:  "backlog-full",
	DropKernel:       "kernel-overflow",
	DropSplitHorizon: "split-horizon",
	DropEncap:        "bad-encap",
	DropVNI:          "other-vni",
	DropOwnEcho:      "own-echo",
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

// ReadFrame reads one frame from p into buf: p.ReadFrames with room for one
// frame of at most len(buf) bytes, copied out. It is for code that plays a
// port's peer (tests, load generators); the hub itself reads batches.
func ReadFrame(p PortIO, buf []byte) (int, error) {
	var fs [1]*Frame
	if _, err := p.ReadFrames(fs[:], len(buf)); err != nil {
		return 0, err
	}
	n := copy(buf, fs[0].Bytes())
	fs[0].Release()
	return n, nil
}

// WriteFrame writes frame to p as one p.WriteFrames call of one frame. Like
// ReadFrame, it is for code that plays a port's peer.
func WriteFrame(p PortIO, frame []byte) error {
	f := FrameOf(frame)
	defer f.Release()
	_, err := p.WriteFrames([]*Frame{f})
	return err
}

// ReadFramesSingly is PortIO.ReadFrames for a transport that hands over one
// frame per read: read fills buf as a ReadFrame does, and the frame is
// copied into a Frame of its own size (a frame sits in queues for a while:
// it should not hold a buffer sized for the largest).
func ReadFramesSingly(frames []*Frame, limit int, buf []byte, read func([]byte) (int, error)) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	n, err := read(buf[:min(limit, len(buf))])
	if err != nil {
		return 0, err
	}
	frames[0] = FrameOf(buf[:n])
	return 1, nil
}

// WriteFramesSingly is PortIO.WriteFrames for a transport that sends one
// frame per call: it stops at the first frame write refuses and reports how
// many went. A frame out of the transport's bounds (ErrFrameTooLarge) is
// that frame's fault, not the transport's: it becomes a *FrameError.
func WriteFramesSingly(frames []*Frame, write func([]byte) error) (int, error) {
	for i, f := range frames {
		if err := write(f.Bytes()); err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) && errors.Is(err, ErrFrameTooLarge) {
				err = &FrameError{Reason: DropOversize, Len: f.Len()}
			}
			return i, err
		}
	}
	return len(frames), nil
}
