package transporttest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

// Pair is one transport under test, connected over real sockets (or in
// memory for the pipe): the hub's end and a VM's end.
type Pair struct {
	// Hub is the end the hub would own; VM is the end QEMU would own.
	Hub, VM hub.PortIO
	// MaxFrame is the hub end's configured maximum frame. The VM end must
	// accept frames of this size too.
	MaxFrame int
	// Stream is set for length-prefixed byte streams: RawVM then writes raw
	// bytes into the VM's byte stream, and the split, coalesced and prefix
	// tests run.
	Stream bool
	// RawVM sends b from the VM end without any checks: raw stream bytes
	// (Stream) or one datagram. Nil for transports with no raw form (pipe).
	RawVM func(b []byte) error
	// Foreign sends one datagram to the hub end from a source that is not its
	// peer; nil where every source is accepted or none can exist.
	Foreign func(b []byte) error
	// VMEcho is set when the VM end hears its own frames (a multicast member).
	VMEcho bool
	// EOF is set when closing the VM end ends the hub end's stream (io.EOF).
	EOF bool
}

// MakePair builds a fresh Pair for one test; it registers its own cleanup
// with t.Cleanup.
type MakePair func(t *testing.T) *Pair

// Frame sizes every transport must carry, besides its maximum.
var frameSizes = []int{transport.MinFrame, 60, 1514, 9000}

const (
	hubMAC byte = 0xa1 // last byte of the source MAC of frames the hub end sends
	vmMAC  byte = 0xb2 // ... and of frames the VM end sends
)

// TestFraming runs the framing suite against one transport, the way
// nettest.TestConn runs against a net.Conn: frame sizes in both directions,
// order, split and coalesced stream writes, bad length prefixes, runts,
// oversized and foreign datagrams, buffers too short, no loopback of the
// hub's own frames, and close semantics.
func TestFraming(t *testing.T, mk MakePair) {
	t.Run("sizes", func(t *testing.T) { testSizes(t, mk) })
	t.Run("in-order", func(t *testing.T) { testInOrder(t, mk) })
	t.Run("split-writes", func(t *testing.T) { testSplitWrites(t, mk) })
	t.Run("coalesced-writes", func(t *testing.T) { testCoalescedWrites(t, mk) })
	t.Run("bad-prefix", func(t *testing.T) { testBadPrefix(t, mk) })
	t.Run("runt", func(t *testing.T) { testRunt(t, mk) })
	t.Run("oversize-datagram", func(t *testing.T) { testOversizeDatagram(t, mk) })
	t.Run("short-buffer", func(t *testing.T) { testShortBuffer(t, mk) })
	t.Run("foreign-source", func(t *testing.T) { testForeign(t, mk) })
	t.Run("no-loopback", func(t *testing.T) { testNoLoopback(t, mk) })
	t.Run("write-bounds", func(t *testing.T) { testWriteBounds(t, mk) })
	t.Run("close", func(t *testing.T) { testClose(t, mk) })
	t.Run("close-unblocks-read", func(t *testing.T) { testCloseUnblocksRead(t, mk) })
	t.Run("close-unblocks-write", func(t *testing.T) { testCloseUnblocksWrite(t, mk) })
	t.Run("peer-close", func(t *testing.T) { testPeerClose(t, mk) })
}

// Frame returns a test frame of size bytes: a locally administered source
// MAC ending in src, EtherType 0x88b5 (local experimental), then seq and a
// pattern derived from it, so that any mix-up shows.
func Frame(src byte, size, seq int) []byte {
	f := make([]byte, size)
	copy(f, []byte{0x02, 0, 0, 0, 0, src ^ 0x13, 0x02, 0, 0, 0, 0, src, 0x88, 0xb5})
	if size >= transport.MinFrame+4 {
		binary.BigEndian.PutUint32(f[transport.MinFrame:], uint32(seq))
	}
	for i := transport.MinFrame + 4; i < size; i++ {
		f[i] = byte(i*7 + seq)
	}
	return f
}

func sizesUpTo(maxFrame int) []int {
	var out []int
	for _, s := range frameSizes {
		if s < maxFrame {
			out = append(out, s)
		}
	}
	return append(out, maxFrame)
}

type readResult struct {
	n   int
	err error
}

// read calls p.ReadFrame, failing the test if it does not return.
func read(t testing.TB, p hub.PortIO, buf []byte) (int, error) {
	t.Helper()
	ch := make(chan readResult, 1)
	go func() {
		n, err := hub.ReadFrame(p, buf)
		ch <- readResult{n, err}
	}()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-time.After(HangGuard):
		p.Close()
		t.Fatalf("ReadFrame did not return within %v", HangGuard)
		return 0, nil
	}
}

// readVM reads the VM end's next frame, skipping its own echoes.
func readVM(t testing.TB, p *Pair, buf []byte) (int, error) {
	t.Helper()
	for {
		n, err := read(t, p.VM, buf)
		if err == nil && p.VMEcho && n >= transport.MinFrame && buf[11] == vmMAC {
			continue
		}
		return n, err
	}
}

func expectFrame(t testing.TB, what string, n int, err error, got []byte, want []byte) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: got error %v, want a %d-byte frame", what, err, len(want))
	}
	if !bytes.Equal(got[:n], want) {
		t.Fatalf("%s: got %d-byte frame %s, want %d-byte frame %s", what, n, head(got[:n]), len(want), head(want))
	}
}

func head(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%x...", b[:24])
	}
	return fmt.Sprintf("%x", b)
}

func expectDrop(t testing.TB, what string, err error, reason hub.DropReason, n int) {
	t.Helper()
	var fe *hub.FrameError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: got error %v, want *hub.FrameError{%s, %d}", what, err, reason, n)
	}
	if fe.Reason != reason || (n >= 0 && fe.Len != n) {
		t.Fatalf("%s: got FrameError{%s, %d}, want {%s, %d}", what, fe.Reason, fe.Len, reason, n)
	}
}

func mustWrite(t testing.TB, p hub.PortIO, f []byte) {
	t.Helper()
	if err := hub.WriteFrame(p, f); err != nil {
		t.Fatalf("WriteFrame(%d bytes): %v", len(f), err)
	}
}

func testSizes(t *testing.T, mk MakePair) {
	p := mk(t)
	buf := make([]byte, p.MaxFrame)
	for i, size := range sizesUpTo(p.MaxFrame) {
		t.Run(fmt.Sprintf("vm-to-hub-%d", size), func(t *testing.T) {
			f := Frame(vmMAC, size, i)
			mustWrite(t, p.VM, f)
			n, err := read(t, p.Hub, buf)
			expectFrame(t, "hub read", n, err, buf, f)
		})
		t.Run(fmt.Sprintf("hub-to-vm-%d", size), func(t *testing.T) {
			f := Frame(hubMAC, size, i)
			mustWrite(t, p.Hub, f)
			n, err := readVM(t, p, buf)
			expectFrame(t, "vm read", n, err, buf, f)
		})
	}
}

func testInOrder(t *testing.T, mk MakePair) {
	// The writer runs at most window frames ahead of the reader: datagram
	// sockets drop what overflows the receiver's buffer, and that is not
	// what this test is about.
	const count, window = 100, 8
	p := mk(t)
	for _, dir := range []struct {
		name   string
		src    byte
		w      hub.PortIO
		readFn func(t testing.TB, buf []byte) (int, error)
	}{
		{"vm-to-hub", vmMAC, p.VM, func(t testing.TB, b []byte) (int, error) { return read(t, p.Hub, b) }},
		{"hub-to-vm", hubMAC, p.Hub, func(t testing.TB, b []byte) (int, error) { return readVM(t, p, b) }},
	} {
		t.Run(dir.name, func(t *testing.T) {
			credit := make(chan struct{}, window)
			for range window {
				credit <- struct{}{}
			}
			stop := make(chan struct{})
			defer close(stop)
			errc := make(chan error, 1)
			go func() {
				for i := range count {
					select {
					case <-credit:
					case <-stop:
						errc <- nil
						return
					}
					if err := hub.WriteFrame(dir.w, Frame(dir.src, 60+i*13, i)); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			buf := make([]byte, p.MaxFrame)
			for i := range count {
				n, err := dir.readFn(t, buf)
				expectFrame(t, fmt.Sprintf("frame %d", i), n, err, buf, Frame(dir.src, 60+i*13, i))
				credit <- struct{}{}
			}
			if err := <-errc; err != nil {
				t.Fatalf("writer: %v", err)
			}
		})
	}
}

func prefixed(f []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(len(f))) // then the frame
}

func testSplitWrites(t *testing.T, mk MakePair) {
	p := mk(t)
	if !p.Stream {
		t.Skip("not a byte stream")
	}
	frames := [][]byte{Frame(vmMAC, 60, 1), Frame(vmMAC, 1514, 2), Frame(vmMAC, transport.MinFrame, 3)}
	errc := make(chan error, 1)
	go func() {
		for _, f := range frames {
			for _, b := range append(prefixed(f), f...) {
				if err := p.RawVM([]byte{b}); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- nil
	}()
	buf := make([]byte, p.MaxFrame)
	for i, f := range frames {
		n, err := read(t, p.Hub, buf)
		expectFrame(t, fmt.Sprintf("frame %d", i), n, err, buf, f)
	}
	if err := <-errc; err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

func testCoalescedWrites(t *testing.T, mk MakePair) {
	p := mk(t)
	if !p.Stream {
		t.Skip("not a byte stream")
	}
	var frames [][]byte
	var raw []byte
	for i := range 50 {
		f := Frame(vmMAC, transport.MinFrame+i*31, i)
		frames = append(frames, f)
		raw = append(append(raw, prefixed(f)...), f...)
	}
	if err := p.RawVM(raw); err != nil {
		t.Fatalf("raw write: %v", err)
	}
	buf := make([]byte, p.MaxFrame)
	for i, f := range frames {
		n, err := read(t, p.Hub, buf)
		expectFrame(t, fmt.Sprintf("frame %d", i), n, err, buf, f)
	}
}

func testBadPrefix(t *testing.T, mk MakePair) {
	for _, tc := range []struct {
		name   string
		prefix func(maxFrame int) uint32
	}{
		{"max-plus-one", func(m int) uint32 { return uint32(m + 1) }},
		{"all-ones", func(int) uint32 { return 0xffffffff }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mk(t)
			if !p.Stream {
				t.Skip("not a byte stream")
			}
			// Only the prefix is sent: a reader that tried to read or
			// allocate the body would block here, not fail fast.
			if err := p.RawVM(binary.BigEndian.AppendUint32(nil, tc.prefix(p.MaxFrame))); err != nil {
				t.Fatalf("raw write: %v", err)
			}
			_, err := read(t, p.Hub, make([]byte, p.MaxFrame))
			if !errors.Is(err, hub.ErrFrameTooLarge) {
				t.Fatalf("got error %v, want one wrapping hub.ErrFrameTooLarge", err)
			}
			var fe *hub.FrameError
			if errors.As(err, &fe) {
				t.Fatalf("got *hub.FrameError %v, want a fatal error", fe)
			}
		})
	}
}

// sendRaw sends f from the VM end as a single frame, bypassing checks where
// the transport has a raw form.
func sendRaw(t testing.TB, p *Pair, f []byte) {
	t.Helper()
	var err error
	switch {
	case p.Stream:
		err = p.RawVM(append(prefixed(f), f...))
	case p.RawVM != nil:
		err = p.RawVM(f)
	default:
		err = hub.WriteFrame(p.VM, f)
	}
	if err != nil {
		t.Fatalf("send %d raw bytes: %v", len(f), err)
	}
}

func testRunt(t *testing.T, mk MakePair) {
	p := mk(t)
	buf := make([]byte, p.MaxFrame)
	sizes := []int{1, transport.MinFrame - 1}
	if p.Stream {
		// A zero length prefix frames a zero-length frame, as QEMU's
		// reader takes it: a runt, not a stream to give up on.
		sizes = append([]int{0}, sizes...)
	}
	for _, size := range sizes {
		sendRaw(t, p, Frame(vmMAC, size, 0))
		good := Frame(vmMAC, 60, size)
		mustWrite(t, p.VM, good)
		_, err := read(t, p.Hub, buf)
		expectDrop(t, fmt.Sprintf("%d-byte runt", size), err, hub.DropRunt, size)
		n, err := read(t, p.Hub, buf)
		expectFrame(t, "frame after runt", n, err, buf, good)
	}
}

func testOversizeDatagram(t *testing.T, mk MakePair) {
	p := mk(t)
	if p.Stream || p.RawVM == nil {
		t.Skip("not a datagram transport")
	}
	sendRaw(t, p, Frame(vmMAC, p.MaxFrame+1, 0))
	good := Frame(vmMAC, 60, 1)
	mustWrite(t, p.VM, good)
	buf := make([]byte, p.MaxFrame)
	_, err := read(t, p.Hub, buf)
	expectDrop(t, "oversized datagram", err, hub.DropOversize, -1)
	n, err := read(t, p.Hub, buf)
	expectFrame(t, "frame after oversized datagram", n, err, buf, good)
}

func testShortBuffer(t *testing.T, mk MakePair) {
	p := mk(t)
	big, good := Frame(vmMAC, 1514, 0), Frame(vmMAC, 60, 1)
	mustWrite(t, p.VM, big)
	mustWrite(t, p.VM, good)
	_, err := read(t, p.Hub, make([]byte, 100))
	expectDrop(t, "1514-byte frame into 100-byte buffer", err, hub.DropOversize, -1)
	buf := make([]byte, p.MaxFrame)
	n, err := read(t, p.Hub, buf)
	expectFrame(t, "next frame", n, err, buf, good)
}

func testForeign(t *testing.T, mk MakePair) {
	p := mk(t)
	if p.Foreign == nil {
		t.Skip("every source is the peer")
	}
	if err := p.Foreign(Frame(0xcc, 60, 0)); err != nil {
		t.Fatalf("foreign send: %v", err)
	}
	good := Frame(vmMAC, 60, 1)
	mustWrite(t, p.VM, good)
	buf := make([]byte, p.MaxFrame)
	_, err := read(t, p.Hub, buf)
	expectDrop(t, "foreign datagram", err, hub.DropForeign, 60)
	n, err := read(t, p.Hub, buf)
	expectFrame(t, "peer's frame", n, err, buf, good)
}

func testNoLoopback(t *testing.T, mk MakePair) {
	p := mk(t)
	mine, theirs := Frame(hubMAC, 60, 1), Frame(vmMAC, 60, 2)
	mustWrite(t, p.Hub, mine)
	buf := make([]byte, p.MaxFrame)
	n, err := readVM(t, p, buf)
	expectFrame(t, "vm read", n, err, buf, mine)
	mustWrite(t, p.VM, theirs)
	n, err = read(t, p.Hub, buf)
	expectFrame(t, "hub read (its own frame must not come back)", n, err, buf, theirs)
}

func testWriteBounds(t *testing.T, mk MakePair) {
	p := mk(t)
	for _, size := range []int{0, p.MaxFrame + 1} {
		var fe *hub.FrameError
		if err := hub.WriteFrame(p.Hub, make([]byte, size)); !errors.As(err, &fe) || fe.Reason != hub.DropOversize {
			t.Errorf("WriteFrames of a %d-byte frame = %v, want a *hub.FrameError (%s)", size, err, hub.DropOversize)
		}
	}
	f := Frame(hubMAC, 60, 0)
	mustWrite(t, p.Hub, f)
	buf := make([]byte, p.MaxFrame)
	n, err := readVM(t, p, buf)
	expectFrame(t, "frame after refused writes", n, err, buf, f)
}

func testClose(t *testing.T, mk MakePair) {
	p := mk(t)
	if err := p.Hub.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if _, err := hub.ReadFrame(p.Hub, make([]byte, p.MaxFrame)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame after Close = %v, want net.ErrClosed", err)
	}
	if err := hub.WriteFrame(p.Hub, Frame(hubMAC, 60, 0)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame after Close = %v, want net.ErrClosed", err)
	}
	p.Hub.Close() // a second Close must be harmless
}

func testCloseUnblocksRead(t *testing.T, mk MakePair) {
	p := mk(t)
	ch := make(chan error, 1)
	go func() {
		_, err := hub.ReadFrame(p.Hub, make([]byte, p.MaxFrame))
		ch <- err
	}()
	p.Hub.Close()
	select {
	case err := <-ch:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending ReadFrame returned %v after Close, want net.ErrClosed", err)
		}
	case <-time.After(HangGuard):
		t.Fatalf("Close did not unblock ReadFrame within %v", HangGuard)
	}
}

func testCloseUnblocksWrite(t *testing.T, mk MakePair) {
	p := mk(t)
	// The VM never reads: the writer fills whatever buffers there are and
	// then blocks (stream, unix datagram, pipe) or keeps going (UDP).
	written := make(chan struct{})
	ch := make(chan error, 1)
	go func() {
		f := Frame(hubMAC, min(p.MaxFrame, 9000), 0)
		for i := 0; ; i++ {
			if i == 4 {
				close(written)
			}
			var fe *hub.FrameError
			if err := hub.WriteFrame(p.Hub, f); err != nil && !errors.As(err, &fe) {
				ch <- err
				return
			}
		}
	}()
	select {
	case <-written:
	case <-time.After(HangGuard):
		t.Fatalf("four writes did not complete within %v", HangGuard)
	}
	p.Hub.Close()
	select {
	case err := <-ch:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteFrame returned %v after Close, want net.ErrClosed", err)
		}
	case <-time.After(HangGuard):
		t.Fatalf("Close did not unblock WriteFrame within %v", HangGuard)
	}
}

func testPeerClose(t *testing.T, mk MakePair) {
	t.Run("between-frames", func(t *testing.T) {
		p := mk(t)
		if !p.EOF {
			t.Skip("connectionless")
		}
		f := Frame(vmMAC, 60, 0)
		mustWrite(t, p.VM, f)
		p.VM.Close()
		buf := make([]byte, p.MaxFrame)
		n, err := read(t, p.Hub, buf)
		expectFrame(t, "frame sent before close", n, err, buf, f)
		if _, err := read(t, p.Hub, buf); !errors.Is(err, io.EOF) {
			t.Fatalf("ReadFrame after the peer closed = %v, want io.EOF", err)
		}
	})
	t.Run("inside-frame", func(t *testing.T) {
		p := mk(t)
		if !p.Stream {
			t.Skip("not a byte stream")
		}
		f := Frame(vmMAC, 100, 0)
		if err := p.RawVM(append(prefixed(f), f[:10]...)); err != nil {
			t.Fatalf("raw write: %v", err)
		}
		p.VM.Close()
		if _, err := read(t, p.Hub, make([]byte, p.MaxFrame)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadFrame of a cut frame = %v, want io.ErrUnexpectedEOF", err)
		}
	})
}
