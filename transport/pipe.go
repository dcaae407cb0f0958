package transport

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"l2hub/hub"
)

// DefaultPipeFrames is how many frames a pipe direction buffers by default.
const DefaultPipeFrames = 64

// Pipe returns the two ends of an in-memory link, for tests: a frame written
// to one end is read from the other. Each direction buffers
// DefaultPipeFrames frames; see PipeWithCapacity.
func Pipe() (*PipeEnd, *PipeEnd) { return PipeWithCapacity(DefaultPipeFrames) }

// PipeWithCapacity is Pipe with frames buffered per direction (at least 1).
//
// WriteFrame copies the frame and blocks while the direction is full; it is
// refused (io.ErrClosedPipe) once the other end has closed. ReadFrame blocks
// until a frame arrives; once the other end has closed it drains what is
// buffered and then returns io.EOF. Close on one end unblocks every call on
// both. Frames are checked like a socket transport's: empty or longer than
// DefaultMaxFrame is refused on write (wrapping hub.ErrFrameTooLarge); a runt
// or a frame longer than the reader's buffer is read as a *hub.FrameError.
func PipeWithCapacity(frames int) (*PipeEnd, *PipeEnd) {
	frames = max(frames, 1)
	ab, ba := newPipeQueue(frames), newPipeQueue(frames)
	a := &PipeEnd{rx: ba, tx: ab, desc: "pipe a->b"}
	b := &PipeEnd{rx: ab, tx: ba, desc: "pipe b->a"}
	return a, b
}

// PipeEnd is one end of a Pipe.
type PipeEnd struct {
	rx, tx *pipeQueue
	closed atomic.Bool
	desc   string
	rbuf   []byte // the reader's, for ReadFrames
}

var (
	_ hub.PortIO    = (*PipeEnd)(nil)
	_ hub.Describer = (*PipeEnd)(nil)
)

// pipeQueue is one direction: a ring of reusable slots, so steady-state
// traffic does not allocate.
type pipeQueue struct {
	mu           sync.Mutex
	cond         sync.Cond // any change: a frame in or out, a close
	slots        [][]byte
	head, n      int
	readerClosed bool // the reading end closed: writes fail
	writerClosed bool // the writing end closed: reads drain, then io.EOF
}

func newPipeQueue(frames int) *pipeQueue {
	q := &pipeQueue{slots: make([][]byte, frames)}
	q.cond.L = &q.mu
	return q
}

// ReadFrame reads the next frame into buf and returns its length.
func (p *PipeEnd) ReadFrame(buf []byte) (int, error) {
	q := p.rx
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.readerClosed && !q.writerClosed {
		q.cond.Wait()
	}
	switch {
	case q.readerClosed:
		return 0, net.ErrClosed
	case q.n == 0:
		return 0, io.EOF
	}
	frame := q.slots[q.head]
	q.head = (q.head + 1) % len(q.slots)
	q.n--
	q.cond.Broadcast()
	switch n := len(frame); {
	case n < MinFrame:
		return 0, &hub.FrameError{Reason: hub.DropRunt, Len: n}
	case n > len(buf):
		return 0, &hub.FrameError{Reason: hub.DropOversize, Len: n}
	}
	return copy(buf, frame), nil
}

// ReadFrames implements hub.PortIO, one frame per call.
func (p *PipeEnd) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if p.rbuf == nil {
		p.rbuf = make([]byte, DefaultMaxFrame)
	}
	return hub.ReadFramesSingly(frames, limit, p.rbuf, p.ReadFrame)
}

// WriteFrames implements hub.PortIO, one frame at a time.
func (p *PipeEnd) WriteFrames(frames []*hub.Frame) (int, error) {
	return hub.WriteFramesSingly(frames, p.WriteFrame)
}

// WriteFrame copies frame into the pipe. It does not retain frame.
func (p *PipeEnd) WriteFrame(frame []byte) error {
	if n := len(frame); n == 0 || n > DefaultMaxFrame {
		return fmt.Errorf("%s: write %d-byte frame outside 1..%d: %w", p.desc, n, DefaultMaxFrame, hub.ErrFrameTooLarge)
	}
	q := p.tx
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == len(q.slots) && !q.readerClosed && !q.writerClosed {
		q.cond.Wait()
	}
	switch {
	case q.writerClosed:
		return net.ErrClosed
	case q.readerClosed:
		return io.ErrClosedPipe
	}
	i := (q.head + q.n) % len(q.slots)
	q.slots[i] = append(q.slots[i][:0], frame...)
	q.n++
	q.cond.Broadcast()
	return nil
}

// Close closes this end. Calls after the first return net.ErrClosed.
func (p *PipeEnd) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	for _, c := range []struct {
		q      *pipeQueue
		reader bool
	}{{p.rx, true}, {p.tx, false}} {
		c.q.mu.Lock()
		if c.reader {
			c.q.readerClosed = true
		} else {
			c.q.writerClosed = true
		}
		c.q.cond.Broadcast()
		c.q.mu.Unlock()
	}
	return nil
}

// Describe names the pipe end ("pipe a->b").
func (p *PipeEnd) Describe() string { return p.desc }
