package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"l2hub/hub"
)

// budgetConn is a net.Conn that reads from r and takes budget bytes of
// writes, then fails.
type budgetConn struct {
	net.Conn
	r      bytes.Buffer
	budget int
}

var errBroken = errors.New("broken pipe")

func (c *budgetConn) Read(p []byte) (int, error)      { return c.r.Read(p) }
func (c *budgetConn) SetReadDeadline(time.Time) error { return nil }
func (c *budgetConn) Close() error                    { return nil }
func (c *budgetConn) Write(p []byte) (int, error) {
	n := min(len(p), c.budget)
	c.budget -= n
	if n < len(p) {
		return n, errBroken
	}
	return n, nil
}

// TestWritevPartialCountsWholeFrames: a write that fails partway reports
// as written the frames the peer got whole, the last one included when
// it ended exactly at the failure, so the hub counts as lost only those
// it did not.
func TestWritevPartialCountsWholeFrames(t *testing.T) {
	for _, size := range []int{60, 1500} { // gathered small frames; one buffer per frame
		frame := func() *hub.Frame { return hub.FrameOf(make([]byte, size)) }
		wire := len(frame().Wire())
		for _, tc := range []struct{ budget, want int }{
			{wire - 1, 0}, {wire, 1}, {wire + 1, 1}, {2*wire - 1, 1},
		} {
			s := newStreamConn(&budgetConn{budget: tc.budget}, 0, "script")
			fs := []*hub.Frame{frame(), frame(), frame()}
			n, err := s.WriteFrames(fs)
			if n != tc.want || !errors.Is(err, errBroken) {
				t.Errorf("%d-byte frames, the write failing after %d bytes: got WriteFrames = %d, %v; want %d, the error", size, tc.budget, n, err, tc.want)
			}
			hub.ReleaseAll(fs)
		}
	}
}

// TestClampMax: a maximum frame size is clamped to MaxFrameLimit, as
// NewStreamConn says, and a non-positive one is the default.
func TestClampMax(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, DefaultMaxFrame}, {-1, DefaultMaxFrame}, {100, 100}, {MaxFrameLimit, MaxFrameLimit}, {MaxFrameLimit + 1, MaxFrameLimit},
	} {
		if got := clampMax(tc.in); got != tc.want {
			t.Errorf("got clampMax(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestStreamBatchStopsAtTheConnsMax: a frame above the conn's own maximum
// is never read into a batch, even when the caller's limit is larger; it
// is left for the next read, which refuses it.
func TestStreamBatchStopsAtTheConnsMax(t *testing.T) {
	c := &budgetConn{}
	for _, size := range []int{60, 200} {
		c.r.Write(binary.BigEndian.AppendUint32(nil, uint32(size)))
		c.r.Write(make([]byte, size))
	}
	s := newStreamConn(c, 100, "script")
	fs := make([]*hub.Frame, 4)
	n, err := s.ReadFrames(fs, 1000)
	hub.ReleaseAll(fs[:n])
	if n != 1 || err != nil {
		t.Fatalf("got ReadFrames = %d, %v; want 1 (the 200-byte frame is above the conn's 100)", n, err)
	}
	if n, err = s.ReadFrames(fs, 1000); n != 0 || !errors.Is(err, hub.ErrFrameTooLarge) {
		hub.ReleaseAll(fs[:n])
		t.Errorf("next read: got %d, %v; want 0 and too large", n, err)
	}
}
