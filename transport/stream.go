package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

	// FrameTimeout bounds how long a stream frame may take to arrive once
	// it has begun (its length prefix's first byte read) and the reader
	// has to wait for the rest. QEMU writes each frame whole, so a frame
	// still incomplete after this is a peer that stopped in the middle of
	// one: a crashed or broken client, or a half-open connection. The
	// reader gives it up (see StreamConn.ReadFrame) so that the port can
	// take its VM again. Silence between frames is not bounded: an idle VM
	// is a VM. (A QEMU process itself stopped, by SIGSTOP or a debugger on
	// QEMU rather than on the guest, in the middle of writing a frame
	// would lose its connection too; stopping the guest does not.)
	FrameTimeout = 10 * time.Second
)

// StreamConn frames Ethernet frames over a byte stream the way QEMU's
// `-netdev stream` and `-netdev socket,connect=|listen=` do: each frame is
// preceded by its length as a 4-byte big-endian integer, in both directions.
// It serves the hub side and, since the framing is symmetric, the VM side of
// tests and load generators.
//
// ReadFrame and WriteFrame may run concurrently with each other (one reader,
// one writer); Close may be called from any goroutine.
//
// A frame that has begun must end within FrameTimeout of the reader first
// waiting for its rest (a read deadline on the connection, set only then
// and cleared at the frame's end); the wait for a frame's first byte has
// no bound.
type StreamConn struct {
	conn   net.Conn
	max    int
	desc   string
	closed atomic.Bool

	// Reader state, touched only by the goroutine calling ReadFrame.
	r   *bufio.Reader
	hdr [prefixLen]byte
	// frameTimeout is FrameTimeout, or the runner's Options.FrameTimeout
	// (<= 0: no bound). inFrame says a frame has begun; armed, that the
	// connection's read deadline is set for it. broken is the error every
	// read returns once a frame timed out.
	frameTimeout   time.Duration
	inFrame, armed bool
	broken         error

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
	s := &StreamConn{
		conn:         c,
		max:          clampMax(maxFrame),
		desc:         desc,
		frameTimeout: FrameTimeout,
	}
	s.r = bufio.NewReaderSize(frameReader{s}, streamReadBuffer)
	return s
}

// frameReader is what the StreamConn's bufio.Reader reads: the connection,
// with a deadline once a frame has begun.
type frameReader struct{ s *StreamConn }

func (r frameReader) Read(p []byte) (int, error) {
	s := r.s
	if s.inFrame && !s.armed && s.frameTimeout > 0 {
		// A socket's deadline is the runtime poller's, in wall time: the
		// hub's clock cannot drive it. Once per frame, so a peer that
		// trickles a frame out is bounded too.
		if s.conn.SetReadDeadline(time.Now().Add(s.frameTimeout)) == nil {
			s.armed = true
		}
	}
	return s.conn.Read(p)
}

// frameEnds clears the frame's deadline, if it needed one.
func (s *StreamConn) frameEnds() {
	s.inFrame = false
	if s.armed {
		s.armed = false
		s.conn.SetReadDeadline(time.Time{})
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
//
// A frame that has begun and does not end within FrameTimeout is discarded
// and returned as a *hub.FrameError (DropRunt: a frame cut short) that
// also wraps ErrFrameTimeout, so that the caller counts it; from then on
// every read returns ErrFrameTimeout, and the caller must close the
// connection, as after a length prefix above the maximum.
func (s *StreamConn) ReadFrame(buf []byte) (int, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	size, err := s.frameLen(len(buf))
	if err != nil {
		return 0, err
	}
	if n, err := io.ReadFull(s.r, buf[:size]); err != nil {
		return 0, s.cut(err, prefixLen+n, prefixLen+size, size)
	}
	s.frameEnds()
	return size, nil
}

// readable is the error a read returns before it begins: net.ErrClosed
// after Close, the timeout after a frame timed out.
func (s *StreamConn) readable() error {
	switch {
	case s.closed.Load():
		return net.ErrClosed
	case s.broken != nil:
		return s.broken
	}
	return nil
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
	if err := s.readable(); err != nil {
		return 0, err
	}
	size, err := s.frameLen(limit)
	if err != nil {
		return 0, err
	}
	f := hub.NewFrame(size)
	if n, err := io.ReadFull(s.r, f.Bytes()); err != nil {
		f.Release()
		return 0, s.cut(err, prefixLen+n, prefixLen+size, size)
	}
	s.frameEnds()
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

// frameLen waits, without a bound, for the next frame to begin, then reads
// its length prefix and checks it. A prefix above max poisons the stream
// (hub.ErrFrameTooLarge); a runt (zero bytes included), or a frame longer
// than limit, is discarded and returned as a *hub.FrameError.
func (s *StreamConn) frameLen(limit int) (int, error) {
	if _, err := s.r.Peek(1); err != nil {
		return 0, s.readErr(err)
	}
	s.inFrame = true // from here the reader waits for the rest, and bounds the wait
	if n, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return 0, s.cut(err, n, prefixLen, 0)
	}
	n := binary.BigEndian.Uint32(s.hdr[:])
	if n > uint32(s.max) {
		s.frameEnds()
		return 0, fmt.Errorf("%s: length prefix %d above the maximum frame %d: %w", s.desc, n, s.max, hub.ErrFrameTooLarge)
	}
	size := int(n)
	if size < MinFrame || size > limit {
		if n, err := s.r.Discard(size); err != nil {
			return 0, s.cut(err, prefixLen+n, prefixLen+size, size)
		}
		s.frameEnds()
		reason := hub.DropRunt
		if size >= MinFrame {
			reason = hub.DropOversize
		}
		return 0, &hub.FrameError{Reason: reason, Len: size}
	}
	return size, nil
}

// cut is the error for a frame the stream failed inside, got of its want
// bytes (length prefix included) read; size is what the prefix claimed (0
// if it is incomplete). A frame that timed out breaks the stream: the
// frame is reported as a *hub.FrameError, to be counted, and every later
// read returns the timeout.
func (s *StreamConn) cut(err error, got, want, size int) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) || !s.armed || s.closed.Load() {
		return s.readErr(midFrame(err))
	}
	s.broken = fmt.Errorf("%s: read: %d of a frame's %d bytes (its length prefix included) arrived, then nothing for %v: %w",
		s.desc, got, want, s.frameTimeout, ErrFrameTimeout)
	if size == 0 {
		s.broken = fmt.Errorf("%s: read: %d of a length prefix's %d bytes arrived, then nothing for %v: %w",
			s.desc, got, prefixLen, s.frameTimeout, ErrFrameTimeout)
	}
	return fmt.Errorf("%w (%w)", s.broken, &hub.FrameError{Reason: hub.DropRunt, Len: size})
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
