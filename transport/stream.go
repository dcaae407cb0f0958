package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

const (
	// DefaultMaxFrame is QEMU's own limit for one frame on its socket back
	// ends: the receive buffer of net/socket.c and net/stream.c is
	// NET_BUFSIZE, 4096 + 65536 bytes. A larger length prefix cannot come
	// from QEMU, so it means the stream is corrupt.
	DefaultMaxFrame = hub.DefaultMaxFrame
	// MaxFrameLimit bounds a configured maximum: buffers are sized from it.
	MaxFrameLimit = hub.MaxFrameLimit
	// MinFrame is the shortest frame forwarded: an Ethernet header
	// (destination, source, EtherType). Shorter frames are runts.
	MinFrame = hub.EthHeaderLen

	prefixLen = 4
	// streamReadBuffer is enough to coalesce many small frames per read
	// system call; frames larger than it are read straight into the caller's
	// buffer by bufio.
	streamReadBuffer = 32 << 10
	dialTimeout      = 10 * time.Second
)

// StreamConn frames Ethernet frames over a byte stream the way QEMU's
// `-netdev stream` and `-netdev socket,connect=|listen=` do: each frame is
// preceded by its length as a 4-byte big-endian integer, in both directions.
// It serves the hub side and, since the framing is symmetric, the VM side of
// tests and load generators.
//
// ReadFrame and WriteFrame may run concurrently with each other (one reader,
// one writer); Close may be called from any goroutine.
type StreamConn struct {
	conn   net.Conn
	max    int
	desc   string
	closed atomic.Bool

	// Reader state, touched only by the goroutine calling ReadFrame.
	r   *bufio.Reader
	hdr [prefixLen]byte

	// Writer state, touched only by the goroutine calling WriteFrame(s):
	// one scratch buffer holding prefix and frame, so each frame is one
	// Write (one segment on the wire for small frames) and no allocation,
	// and the vector WriteFrames hands writev.
	wbuf []byte
	iov  [][]byte
	bufs net.Buffers
}

var _ hub.Describer = (*StreamConn)(nil)

// NewStreamConn frames c. maxFrame bounds frames in both directions; <= 0
// means DefaultMaxFrame, and values above MaxFrameLimit are clamped to it.
// The StreamConn owns c from now on.
func NewStreamConn(c net.Conn, maxFrame int) *StreamConn {
	return newStreamConn(c, maxFrame, describeConn(c))
}

func newStreamConn(c net.Conn, maxFrame int, desc string) *StreamConn {
	return &StreamConn{
		conn: c,
		max:  clampMax(maxFrame),
		desc: desc,
		r:    bufio.NewReaderSize(c, streamReadBuffer),
	}
}

func clampMax(maxFrame int) int {
	switch {
	case maxFrame <= 0:
		return DefaultMaxFrame
	case maxFrame > MaxFrameLimit:
		return MaxFrameLimit
	}
	return maxFrame
}

// DialStream connects to a QEMU stream peer (or to a hub listening for one)
// at address on network ("tcp" or "unix") and frames the connection.
func DialStream(ctx context.Context, network, address string, maxFrame int) (*StreamConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return newStreamConn(c, maxFrame, network+" "+address), nil
}

func describeConn(c net.Conn) string {
	local := c.LocalAddr()
	desc := local.Network() + " " + local.String()
	if remote := c.RemoteAddr(); remote != nil && remote.String() != "" && remote.String() != "@" {
		desc += " from " + remote.String()
	}
	return desc
}

// ReadFrame reads the next frame into buf and returns its length.
//
// A length prefix above the maximum returns an error wrapping
// hub.ErrFrameTooLarge without reading further: the stream can no longer be
// trusted and the caller must close it. A runt (shorter than MinFrame; a
// zero length prefix is a zero-length runt, as QEMU's own reader takes it),
// or a frame that fits the maximum but not buf, is read, discarded and
// returned as a *hub.FrameError (DropRunt, DropOversize); the stream stays
// usable. A
// clean end of stream between frames is io.EOF, one inside a frame
// io.ErrUnexpectedEOF.
func (s *StreamConn) ReadFrame(buf []byte) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	size, err := s.frameLen(len(buf))
	if err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(s.r, buf[:size]); err != nil {
		return 0, s.readErr(midFrame(err))
	}
	return size, nil
}

// ReadFrames implements hub.PortIO: it reads one frame as ReadFrame
// does, straight into a new hub.Frame, then every further frame whose prefix
// and bytes are already in the read buffer (up to streamReadBuffer bytes),
// so the many small frames one read system call brings in cost one
// hand-over. Errors are ReadFrame's, with limit for len(buf); a frame that
// would fail, or has not wholly arrived, ends the batch and is left for the
// next call.
func (s *StreamConn) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	size, err := s.frameLen(limit)
	if err != nil {
		return 0, err
	}
	f := hub.NewFrame(size)
	if _, err := io.ReadFull(s.r, f.Bytes()); err != nil {
		f.Release()
		return 0, s.readErr(midFrame(err))
	}
	frames[0] = f
	n := 1
	limit = min(limit, s.max)
	for n < len(frames) && s.r.Buffered() >= prefixLen {
		hdr, _ := s.r.Peek(prefixLen) // buffered: cannot fail
		size := int(binary.BigEndian.Uint32(hdr))
		if size < MinFrame || size > limit || s.r.Buffered() < prefixLen+size {
			break
		}
		s.r.Discard(prefixLen)
		f := hub.NewFrame(size)
		io.ReadFull(s.r, f.Bytes()) // buffered: a copy, no system call
		frames[n] = f
		n++
	}
	return n, nil
}

// frameLen reads the next length prefix and checks it. A prefix above max
// poisons the stream (hub.ErrFrameTooLarge); a runt (zero bytes included),
// or a frame longer than limit, is discarded and returned as a
// *hub.FrameError.
func (s *StreamConn) frameLen(limit int) (int, error) {
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return 0, s.readErr(err)
	}
	n := binary.BigEndian.Uint32(s.hdr[:])
	if n > uint32(s.max) {
		return 0, fmt.Errorf("%s: length prefix %d above the maximum frame %d: %w", s.desc, n, s.max, hub.ErrFrameTooLarge)
	}
	size := int(n)
	if size < MinFrame || size > limit {
		if _, err := s.r.Discard(size); err != nil {
			return 0, s.readErr(midFrame(err))
		}
		reason := hub.DropRunt
		if size >= MinFrame {
			reason = hub.DropOversize
		}
		return 0, &hub.FrameError{Reason: reason, Len: size}
	}
	return size, nil
}

func midFrame(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (s *StreamConn) readErr(err error) error {
	switch {
	case s.closed.Load():
		return net.ErrClosed
	case err == io.EOF:
		return io.EOF
	}
	return fmt.Errorf("%s: read: %w", s.desc, err)
}

// WriteFrame sends frame with its length prefix in a single Write. A frame
// that is empty or longer than the maximum is refused with an error wrapping
// hub.ErrFrameTooLarge and nothing is sent. It does not retain frame.
func (s *StreamConn) WriteFrame(frame []byte) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	n := len(frame)
	if n == 0 || n > s.max {
		return fmt.Errorf("%s: write %d-byte frame outside 1..%d: %w", s.desc, n, s.max, hub.ErrFrameTooLarge)
	}
	need := prefixLen + n
	if cap(s.wbuf) < need {
		// Grow geometrically, bounded by the largest frame we may send.
		s.wbuf = make([]byte, 0, min(max(need, 2*cap(s.wbuf), 2048), prefixLen+s.max))
	}
	b := s.wbuf[:need]
	binary.BigEndian.PutUint32(b, uint32(n))
	copy(b[prefixLen:], frame)
	return s.write(b)
}

// write sends b with one Write.
func (s *StreamConn) write(b []byte) error {
	if _, err := s.conn.Write(b); err != nil {
		if s.closed.Load() {
			return net.ErrClosed
		}
		return fmt.Errorf("%s: write: %w", s.desc, err)
	}
	return nil
}

var _ hub.PortIO = (*StreamConn)(nil)

// smallFrame is the largest frame WriteFrames copies into one buffer with
// its neighbours rather than handing the kernel as a vector element of its
// own: for small frames a copy is cheaper than an iovec.
const smallFrame = 256

// WriteFrames implements hub.PortIO: every frame with its length prefix,
// back to back, in one vectored write (writev(2)). Each frame's Wire() —
// prefix and frame in one buffer, the frame's headroom — is handed to the
// kernel as it is; only runs of small frames are gathered into one buffer
// first. The peer reads exactly the stream one WriteFrame per frame would
// have written. A frame that is empty or longer than the maximum is not
// sent: the frames before it are, and it is reported as a *hub.FrameError
// (DropOversize).
func (s *StreamConn) WriteFrames(frames []*hub.Frame) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	n := len(frames)
	var bad error
	for i, f := range frames {
		if l := f.Len(); l == 0 || l > s.max {
			n, bad = i, &hub.FrameError{Reason: hub.DropOversize, Len: l}
			break
		}
	}
	sent, err := s.writev(frames[:n])
	if err != nil {
		return sent, err
	}
	return n, bad
}

// writev writes frames with one vectored write and returns how many were
// written whole when it fails.
func (s *StreamConn) writev(frames []*hub.Frame) (int, error) {
	iov := s.iov[:0]
	small := s.wbuf[:0] // runs of small frames, gathered
	runStart := 0       // where the current run of small frames began in small
	inRun := false
	for _, f := range frames {
		w := f.Wire()
		if len(w) > smallFrame+hub.PrefixLen {
			if inRun {
				iov = append(iov, small[runStart:])
				inRun = false
			}
			iov = append(iov, w)
			continue
		}
		if len(small)+len(w) > cap(small) {
			// The gather buffer is full: what it holds is already in iov or
			// in the open run, so the run is closed and a new buffer begun
			// (iov keeps the old one alive until the write).
			if inRun {
				iov = append(iov, small[runStart:])
				inRun = false
			}
			small = make([]byte, 0, max(cap(small)*2, 16<<10))
			s.wbuf = small
		}
		if !inRun {
			runStart, inRun = len(small), true
		}
		small = append(small, w...)
	}
	if inRun {
		iov = append(iov, small[runStart:])
	}
	s.iov = iov
	s.bufs = iov
	written, err := s.bufs.WriteTo(s.conn)
	clear(iov) // drop references to frames the caller will release
	s.bufs = nil
	if err == nil {
		return len(frames), nil
	}
	whole := 0
	for _, f := range frames {
		if written < int64(len(f.Wire())) {
			break
		}
		written -= int64(len(f.Wire()))
		whole++
	}
	if s.closed.Load() {
		return whole, net.ErrClosed
	}
	return whole, fmt.Errorf("%s: write: %w", s.desc, err)
}

// Close closes the connection, unblocking ReadFrame and WriteFrame. Calls
// after the first return net.ErrClosed.
func (s *StreamConn) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%s: close: %w", s.desc, err)
	}
	return nil
}

// Describe says what the stream is connected to ("tcp 127.0.0.1:7001 from
// 127.0.0.1:53122").
func (s *StreamConn) Describe() string { return s.desc }

// MaxFrame returns the largest frame accepted in either direction.
func (s *StreamConn) MaxFrame() int { return s.max }
