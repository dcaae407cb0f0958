package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// memConn is a net.Conn reading from r and writing to w, so that the
// framer can be tested against exact read patterns (one byte at a time,
// errors mid-frame) without sockets.
type memConn struct {
	r io.Reader
	w io.Writer
}

func (c *memConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *memConn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "mem", Net: "mem"} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "peer", Net: "mem"} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
func newReadConn(r io.Reader, maxFrame int) *transport.StreamConn {
	return transport.NewStreamConn(&memConn{r: r, w: io.Discard}, maxFrame)
}

func prefixed(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// readResult is one ReadFrame outcome in a comparable form.
type readResult struct {
	frame  string
	reason hub.DropReason
	n      int
	err    string // "", "eof", "unexpected-eof", "too-large", or the error text
}

func (r readResult) String() string {
	switch {
	case r.err != "":
		return r.err
	case r.reason != hub.DropNone:
		return fmt.Sprintf("drop %s %d", r.reason, r.n)
	}
	return fmt.Sprintf("frame %d %x", len(r.frame), r.frame[:min(len(r.frame), 16)])
}

func classify(n int, err error, buf []byte) readResult {
	var fe *hub.FrameError
	switch {
	case err == nil:
		return readResult{frame: string(buf[:n])}
	case errors.As(err, &fe):
		return readResult{reason: fe.Reason, n: fe.Len}
	case err == io.EOF:
		return readResult{err: "eof"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return readResult{err: "unexpected-eof"}
	case errors.Is(err, hub.ErrFrameTooLarge):
		return readResult{err: "too-large"}
	}
	return readResult{err: err.Error()}
}

// readAll reads until a fatal error and returns every result, the last
// being the error.
func readAll(s *transport.StreamConn, bufLen int) []readResult {
	buf := make([]byte, bufLen)
	var out []readResult
	for {
		n, err := s.ReadFrame(buf)
		r := classify(n, err, buf)
		out = append(out, r)
		if r.err != "" {
			return out
		}
	}
}

// readAllBatched is readAll through ReadFrames, batch frames per call at
// most: the results must not depend on how frames were batched.
func readAllBatched(s *transport.StreamConn, bufLen, batch int) []readResult {
	frames := make([]*hub.Frame, batch)
	var out []readResult
	for {
		n, err := s.ReadFrames(frames, bufLen)
		if err != nil {
			r := classify(0, err, nil)
			out = append(out, r)
			if r.err != "" {
				return out
			}
			continue
		}
		for _, f := range frames[:n] {
			out = append(out, readResult{frame: string(f.Bytes())})
			f.Release()
		}
	}
}

// referenceRead decodes a stream the obvious way, for the differential
// tests: the behaviour ReadFrame promises, written without buffering.
func referenceRead(data []byte, maxFrame, bufLen int) []readResult {
	var out []readResult
	for {
		switch {
		case len(data) == 0:
			return append(out, readResult{err: "eof"})
		case len(data) < 4:
			return append(out, readResult{err: "unexpected-eof"})
		}
		n := binary.BigEndian.Uint32(data)
		data = data[4:]
		if n > uint32(maxFrame) {
			return append(out, readResult{err: "too-large"})
		}
		if uint32(len(data)) < n {
			return append(out, readResult{err: "unexpected-eof"})
		}
		body := data[:n]
		data = data[n:]
		switch {
		case n < transport.MinFrame:
			out = append(out, readResult{reason: hub.DropRunt, n: int(n)})
		case int(n) > bufLen:
			out = append(out, readResult{reason: hub.DropOversize, n: int(n)})
		default:
			out = append(out, readResult{frame: string(body)})
		}
	}
}

func TestStreamRead(t *testing.T) {
	f60, f1514, fmax := transporttest.Frame(1, 60, 1), transporttest.Frame(1, 1514, 2), transporttest.Frame(1, transport.DefaultMaxFrame, 3)
	runt := transporttest.Frame(1, 13, 4)
	for _, tc := range []struct {
		name   string
		stream []byte
		bufLen int
	}{
		{"one-frame", prefixed(f60), transport.DefaultMaxFrame},
		{"max-frame", prefixed(fmax), transport.DefaultMaxFrame},
		{"several-frames", prefixed(f60, f1514, fmax, f60), transport.DefaultMaxFrame},
		{"runt-then-frame", prefixed(runt, f60), transport.DefaultMaxFrame},
		{"one-byte-runt", prefixed([]byte{7}, f60), transport.DefaultMaxFrame},
		{"frame-longer-than-buffer", prefixed(f1514, f60), 1000},
		{"zero-prefix", append(prefixed(f60), 0, 0, 0, 0), transport.DefaultMaxFrame},
		{"zero-prefix-then-frame", append(append(prefixed(f60), 0, 0, 0, 0), prefixed(f60)...), transport.DefaultMaxFrame},
		{"prefix-max-plus-one", binary.BigEndian.AppendUint32(nil, transport.DefaultMaxFrame+1), transport.DefaultMaxFrame},
		{"prefix-all-ones", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}, transport.DefaultMaxFrame},
		{"cut-in-prefix", append(prefixed(f60), 0, 0), transport.DefaultMaxFrame},
		{"cut-in-body", prefixed(f60)[:30], transport.DefaultMaxFrame},
		{"cut-in-runt", prefixed(runt)[:8], transport.DefaultMaxFrame},
		{"empty", nil, transport.DefaultMaxFrame},
	} {
		want := referenceRead(tc.stream, transport.DefaultMaxFrame, tc.bufLen)
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"one-byte-reads", iotest.OneByteReader},
			{"half-reads", iotest.HalfReader},
			{"data-with-eof", iotest.DataErrReader},
		} {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got := readAll(newReadConn(rd.wrap(bytes.NewReader(tc.stream)), 0), tc.bufLen)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("got %v, want %v", got, want)
				}
				for _, batch := range []int{1, 3, 64} {
					got := readAllBatched(newReadConn(rd.wrap(bytes.NewReader(tc.stream)), 0), tc.bufLen, batch)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("batches of %d: got %v, want %v", batch, got, want)
					}
				}
			})
		}
	}
}

// TestStreamReadFramesBatches checks that ReadFrames hands over, in one
// call, every whole frame that one read brought in, and leaves a frame that
// has not wholly arrived, or that it must refuse, for the next call.
func TestStreamReadFramesBatches(t *testing.T) {
	f60, f100 := transporttest.Frame(1, 60, 1), transporttest.Frame(1, 100, 2)
	runt := transporttest.Frame(1, 13, 3)
	for _, tc := range []struct {
		name   string
		reads  [][]byte // what each read of the connection returns
		bufLen int
		want   []int // frames per ReadFrames call, -1 for an error
	}{
		{"three-in-one-read", [][]byte{prefixed(f60, f100, f60)}, 1514, []int{3, -1}},
		{"cut-frame-waits", [][]byte{prefixed(f60, f100)[:70], prefixed(f60, f100)[70:]}, 1514, []int{1, 1, -1}},
		{"runt-ends-batch", [][]byte{prefixed(f60, runt, f60)}, 1514, []int{1, -1, 1, -1}},
		{"oversize-ends-batch", [][]byte{prefixed(f60, f100, f60)}, 80, []int{1, -1, 1, -1}},
		{"batch-limit", [][]byte{prefixed(f60, f60, f60, f60, f60)}, 1514, []int{4, 1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newReadConn(&chunkReader{chunks: tc.reads}, 0)
			frames := make([]*hub.Frame, 4)
			var got []int
			for range len(tc.want) {
				n, err := s.ReadFrames(frames, tc.bufLen)
				if err != nil {
					got = append(got, -1)
					continue
				}
				got = append(got, n)
				for _, f := range frames[:n] {
					f.Release()
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got frames per call %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStreamBatchLeavesAFrameMissingItsLastBytes: a frame whose prefix and
// all but its last bytes are buffered is left for the next call, not read
// into this batch: that would wait on the socket for the rest, holding the
// frames already taken, with no frame timeout armed between frames.
func TestStreamBatchLeavesAFrameMissingItsLastBytes(t *testing.T) {
	f60, f100 := transporttest.Frame(1, 60, 1), transporttest.Frame(1, 100, 2)
	all := prefixed(f60, f100)
	for _, missing := range []int{1, 2, 4} {
		cut := len(all) - missing
		s := newReadConn(&chunkReader{chunks: [][]byte{all[:cut], all[cut:]}}, 0)
		frames := make([]*hub.Frame, 4)
		var got [][]byte
		var calls []int
		for range 3 {
			n, err := s.ReadFrames(frames, 1514)
			if err != nil {
				calls = append(calls, -1)
				continue
			}
			calls = append(calls, n)
			for _, f := range frames[:n] {
				got = append(got, bytes.Clone(f.Bytes()))
			}
			hub.ReleaseAll(frames[:n])
		}
		if fmt.Sprint(calls) != "[1 1 -1]" {
			t.Errorf("%d bytes missing: got frames per call %v, want [1 1 -1]", missing, calls)
		}
		if len(got) != 2 || !bytes.Equal(got[0], f60) || !bytes.Equal(got[1], f100) {
			t.Errorf("%d bytes missing: got %d frames, want the two sent", missing, len(got))
		}
	}
}

// chunkReader returns its chunks one per Read, then io.EOF.
type chunkReader struct{ chunks [][]byte }

func (r *chunkReader) Read(b []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func TestStreamReadAfterClose(t *testing.T) {
	s := newReadConn(bytes.NewReader(prefixed(transporttest.Frame(1, 60, 0))), 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if _, err := s.ReadFrame(make([]byte, 100)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame after Close = %v, want net.ErrClosed", err)
	}
	if err := s.WriteFrame(transporttest.Frame(1, 60, 0)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame after Close = %v, want net.ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

// countingWriter records each Write separately.
type countingWriter struct{ writes [][]byte }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(b))
	return len(b), nil
}

func TestStreamWriteOneWritePerFrame(t *testing.T) {
	for _, size := range []int{1, transport.MinFrame, 60, 1514, 9000, transport.DefaultMaxFrame} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			w := &countingWriter{}
			s := transport.NewStreamConn(&memConn{r: bytes.NewReader(nil), w: w}, 0)
			f := transporttest.Frame(2, size, size)
			if err := s.WriteFrame(f); err != nil {
				t.Fatalf("WriteFrame: %v", err)
			}
			if len(w.writes) != 1 {
				t.Fatalf("got %d writes, want 1", len(w.writes))
			}
			if want := prefixed(f); !bytes.Equal(w.writes[0], want) {
				t.Fatalf("got %x..., want %x...", w.writes[0][:8], want[:8])
			}
		})
	}
}

func TestStreamWriteBounds(t *testing.T) {
	w := &countingWriter{}
	s := transport.NewStreamConn(&memConn{r: bytes.NewReader(nil), w: w}, 1514)
	for _, size := range []int{0, 1515, transport.DefaultMaxFrame} {
		if err := s.WriteFrame(make([]byte, size)); !errors.Is(err, hub.ErrFrameTooLarge) {
			t.Errorf("WriteFrame(%d bytes) with maximum 1514 = %v, want hub.ErrFrameTooLarge", size, err)
		}
	}
	if len(w.writes) != 0 {
		t.Errorf("got %d writes of refused frames, want 0", len(w.writes))
	}
}

func TestStreamWriteZeroAllocs(t *testing.T) {
	s := transport.NewStreamConn(&memConn{r: bytes.NewReader(nil), w: io.Discard}, 0)
	for _, size := range []int{60, 1514, transport.DefaultMaxFrame} {
		f := transporttest.Frame(2, size, 0)
		if err := s.WriteFrame(f); err != nil { // warm the scratch buffer
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { s.WriteFrame(f) }); got != 0 {
			t.Errorf("WriteFrame(%d bytes): got %v allocations per frame, want 0", size, got)
		}
	}
}

// socketPair returns the two ends of a connected unix stream socket: a real
// socket, so WriteFrames's vectored write is the one the hub makes.
func socketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

func hubFrames(fs ...[]byte) []*hub.Frame {
	out := make([]*hub.Frame, len(fs))
	for i, f := range fs {
		out[i] = hub.FrameOf(f)
	}
	return out
}

func TestStreamWriteFrames(t *testing.T) {
	sizes := []int{60, 1514, 9000, 60, 60, transport.DefaultMaxFrame, 14, 300}
	var frames [][]byte
	for i, n := range sizes {
		frames = append(frames, transporttest.Frame(3, n, i))
	}
	a, b := socketPair(t)
	s := transport.NewStreamConn(a, 0)
	want := prefixed(frames...)
	got := make(chan []byte)
	go func() {
		buf := make([]byte, len(want))
		n, _ := io.ReadFull(b, buf)
		got <- buf[:n]
	}()
	if n, err := s.WriteFrames(hubFrames(frames...)); n != len(frames) || err != nil {
		t.Fatalf("WriteFrames = %d, %v; want %d, nil", n, err, len(frames))
	}
	// The stream is exactly the frames, prefixed, in order.
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("WriteFrames wrote %d bytes that differ from the %d of one WriteFrame per frame", len(g), len(want))
	}

	// A frame out of bounds is not sent: those before it are, and it is
	// reported for the caller to count and skip.
	go func() {
		buf := make([]byte, len(prefixed(frames[0])))
		n, _ := io.ReadFull(b, buf)
		got <- buf[:n]
	}()
	n, err := s.WriteFrames(hubFrames(frames[0], nil, frames[1]))
	var fe *hub.FrameError
	if n != 1 || !errors.As(err, &fe) || fe.Reason != hub.DropOversize {
		t.Errorf("WriteFrames with an empty second frame = %d, %v; want 1 and a *hub.FrameError (%s)", n, err, hub.DropOversize)
	}
	if g := <-got; !bytes.Equal(g, prefixed(frames[0])) {
		t.Errorf("wrote %x, want only the first frame", g)
	}
	s.Close()
	if _, err := s.WriteFrames(hubFrames(frames...)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrames after Close = %v, want net.ErrClosed", err)
	}
}

func TestStreamWriteFramesZeroAllocs(t *testing.T) {
	a, b := socketPair(t)
	go io.Copy(io.Discard, b)
	s := transport.NewStreamConn(a, 0)
	frames := hubFrames(transporttest.Frame(2, 60, 0), transporttest.Frame(2, 1514, 1), transporttest.Frame(2, 60, 2), transporttest.Frame(2, 1514, 3))
	s.WriteFrames(frames) // warm the scratch buffers
	if got := testing.AllocsPerRun(100, func() { s.WriteFrames(frames) }); got != 0 {
		t.Errorf("WriteFrames: got %v allocations per batch, want 0", got)
	}
}

// repeatReader yields the same bytes forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func TestStreamReadZeroAllocs(t *testing.T) {
	s := newReadConn(&repeatReader{data: prefixed(transporttest.Frame(1, 60, 0), transporttest.Frame(1, 1514, 1))}, 0)
	buf := make([]byte, transport.DefaultMaxFrame)
	if got := testing.AllocsPerRun(100, func() { s.ReadFrame(buf) }); got != 0 {
		t.Errorf("ReadFrame: got %v allocations per frame, want 0", got)
	}
}

// A length prefix is untrusted: a huge one must cost a small error, not an
// allocation of its size.
func TestStreamBadPrefixAllocatesLittle(t *testing.T) {
	const runs = 100
	data := bytes.Repeat([]byte{0x7f, 0xff, 0xff, 0xff}, 1)
	conns := make([]*transport.StreamConn, runs)
	for i := range conns {
		conns[i] = newReadConn(bytes.NewReader(data), 0)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, s := range conns {
		if _, err := s.ReadFrame(buf); !errors.Is(err, hub.ErrFrameTooLarge) {
			t.Fatalf("ReadFrame = %v, want hub.ErrFrameTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 1024 {
		t.Errorf("a 2 GiB length prefix cost %d bytes of allocation, want under 1 KiB", per)
	}
}

func FuzzStreamRead(f *testing.F) {
	f.Add(prefixed(transporttest.Frame(1, 60, 0)), uint16(1514), uint16(1514), false)
	f.Add(prefixed(transporttest.Frame(1, 14, 0), []byte{1, 2, 3}, transporttest.Frame(1, 100, 1)), uint16(90), uint16(200), true)
	f.Add([]byte{0, 0, 0, 0}, uint16(1514), uint16(1514), false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0}, uint16(0), uint16(0), true)
	f.Add([]byte{0, 0, 5}, uint16(60), uint16(60), true)
	f.Add(prefixed(transporttest.Frame(1, 60, 0))[:20], uint16(60), uint16(60), false)
	f.Fuzz(func(t *testing.T, data []byte, maxFrame, bufLen uint16, oneByte bool) {
		m := transport.MinFrame + int(maxFrame)%2048
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		got := readAll(newReadConn(r, m), int(bufLen))
		want := referenceRead(data, m, int(bufLen))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("max %d, buffer %d: got %v, want %v", m, bufLen, got, want)
		}
		r = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		if got := readAllBatched(newReadConn(r, m), int(bufLen), 8); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("max %d, buffer %d, ReadFrames: got %v, want %v", m, bufLen, got, want)
		}
	})
}

func BenchmarkStreamWrite(b *testing.B) {
	for _, size := range []int{60, 1514, 9000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			s := transport.NewStreamConn(&memConn{r: bytes.NewReader(nil), w: io.Discard}, 0)
			f := transporttest.Frame(2, size, 0)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := s.WriteFrame(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStreamRead(b *testing.B) {
	for _, size := range []int{60, 1514, 9000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			s := newReadConn(&repeatReader{data: prefixed(transporttest.Frame(1, size, 0))}, 0)
			buf := make([]byte, transport.DefaultMaxFrame)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := s.ReadFrame(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The same over a real loopback TCP connection, the path QEMU uses.
func BenchmarkStreamTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	for _, size := range []int{60, 1514, 9000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			c1, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c2, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			w, r := transport.NewStreamConn(c1, 0), transport.NewStreamConn(c2, 0)
			defer w.Close()
			defer r.Close()
			f := transporttest.Frame(2, size, 0)
			done := make(chan error, 1)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			go func() {
				for range b.N {
					if err := w.WriteFrame(f); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			buf := make([]byte, transport.DefaultMaxFrame)
			for range b.N {
				if _, err := r.ReadFrame(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

func TestJoinMcastLikeQEMURefusesPortZero(t *testing.T) {
	if _, err := transport.JoinMcastLikeQEMU("230.0.0.1:0", "127.0.0.1", 0); err == nil || !strings.Contains(err.Error(), "needs the group's port") {
		t.Errorf("JoinMcastLikeQEMU with port 0 = %v, want a refusal", err)
	}
}
