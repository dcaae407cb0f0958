package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"l2hub/hub"
)

// scriptConn is a net.Conn whose reads follow a script: byte chunks, each
// returned by one Read, and waits, where the peer sends nothing for a
// while. A wait with a read deadline set is where the deadline expires; a
// wait without one is one the reader sits through (the peer sends the next
// chunk later). It stands in for a socket so that the frame timeout is
// tested without waiting for it.
type scriptConn struct {
	steps    []step
	deadline time.Time // the read deadline set, zero for none
	// waits records each wait: whether a deadline was set during it.
	waits []bool
}

// step is one chunk of bytes, or a wait when data is nil.
type step struct{ data []byte }

var wait = step{}

func (c *scriptConn) Read(p []byte) (int, error) {
	for len(c.steps) > 0 {
		st := &c.steps[0]
		if st.data == nil {
			c.steps = c.steps[1:]
			c.waits = append(c.waits, !c.deadline.IsZero())
			if !c.deadline.IsZero() {
				return 0, &net.OpError{Op: "read", Net: "script", Err: os.ErrDeadlineExceeded}
			}
			continue
		}
		n := copy(p, st.data)
		if st.data = st.data[n:]; len(st.data) == 0 {
			c.steps = c.steps[1:]
		}
		return n, nil
	}
	return 0, io.EOF
}

func (c *scriptConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

func (c *scriptConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "script", Net: "script"} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "peer", Net: "script"} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// TestFrameTimeout: a frame that has begun and stops (a length prefix, part
// of one, part of a frame, then nothing) is given up once its deadline
// expires: the frame is reported for counting, then every read fails with
// ErrFrameTimeout. The wait for a frame's first byte has no deadline, and a
// frame that completes clears its own.
func TestFrameTimeout(t *testing.T) {
	frame := make([]byte, 60)
	frame[0] = 2
	whole := binary.BigEndian.AppendUint32(nil, 60)
	whole = append(whole, frame...)
	runt := binary.BigEndian.AppendUint32(nil, 5)
	for _, tc := range []struct {
		name  string
		steps []step
		// want is each read's outcome until the script ends: a frame's
		// length, "runt/N" for a FrameError, "timeout" for ErrFrameTimeout
		// alone, "EOF".
		want []string
		// waits says for each wait whether a deadline bounded it.
		waits []bool
	}{
		{"idle-between-frames", []step{{whole}, wait, {whole}, wait}, []string{"60", "60", "EOF"}, []bool{false, false}},
		{"length-prefix-then-nothing", []step{{whole[:4]}, wait, {whole[4:]}}, []string{"runt/60+timeout", "timeout", "timeout"}, []bool{true}},
		{"half-a-length-prefix", []step{{whole[:2]}, wait, {whole[2:]}}, []string{"runt/0+timeout", "timeout"}, []bool{true}},
		{"half-a-frame", []step{{whole[:34]}, wait, {whole[34:]}}, []string{"runt/60+timeout", "timeout"}, []bool{true}},
		{"frame-in-pieces", []step{{whole[:2]}, {whole[2:10]}, {whole[10:]}, wait, {whole}}, []string{"60", "60", "EOF"}, []bool{false}},
		{"discarded-runt-stops", []step{{runt}, {[]byte{1, 2}}, wait, {[]byte{3, 4, 5}}}, []string{"runt/5+timeout", "timeout"}, []bool{true}},
		{"frame-after-a-discarded-runt", []step{{runt}, {[]byte{1, 2, 3, 4, 5}}, wait, {whole}}, []string{"runt/5", "60", "EOF"}, []bool{false}},
	} {
		for _, batch := range []bool{false, true} {
			name := tc.name + "/ReadFrame"
			if batch {
				name = tc.name + "/ReadFrames"
			}
			t.Run(name, func(t *testing.T) {
				c := &scriptConn{}
				for _, st := range tc.steps {
					c.steps = append(c.steps, step{bytes.Clone(st.data)})
				}
				s := newStreamConn(c, 0, "script")
				var got []string
				for range tc.want {
					got = append(got, readOutcome(s, batch))
					if !c.deadline.IsZero() && got[len(got)-1] == "60" {
						t.Errorf("after a whole frame the read deadline is still set (%v)", c.deadline)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("got reads %v, want %v", got, tc.want)
				}
				if fmt.Sprint(c.waits) != fmt.Sprint(tc.waits) {
					t.Errorf("got waits bounded %v, want %v", c.waits, tc.waits)
				}
			})
		}
	}
}

// readOutcome reads one frame and says what came of it.
func readOutcome(s *StreamConn, batch bool) string {
	var n int
	var err error
	if batch {
		frames := make([]*hub.Frame, 4)
		var k int
		k, err = s.ReadFrames(frames, DefaultMaxFrame)
		if k > 0 {
			n = frames[0].Len()
			hub.ReleaseAll(frames[:k])
		}
	} else {
		n, err = s.ReadFrame(make([]byte, DefaultMaxFrame))
	}
	var fe *hub.FrameError
	switch {
	case err == nil:
		return fmt.Sprint(n)
	case errors.As(err, &fe) && errors.Is(err, ErrFrameTimeout):
		return fmt.Sprintf("%s/%d+timeout", fe.Reason, fe.Len)
	case errors.As(err, &fe):
		return fmt.Sprintf("%s/%d", fe.Reason, fe.Len)
	case errors.Is(err, ErrFrameTimeout):
		return "timeout"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return err.Error()
}

// timeoutAttacher notes the frame timeout of the first connection a runner
// attaches and lets every one go at once.
type timeoutAttacher struct{ got chan time.Duration }

func (a timeoutAttacher) Attach(_ string, io hub.PortIO) (<-chan struct{}, error) {
	if sc, ok := io.(*StreamConn); ok {
		select {
		case a.got <- sc.frameTimeout:
		default:
		}
	}
	io.Close()
	done := make(chan struct{})
	close(done)
	return done, nil
}

// TestFrameTimeoutOption: every stream transport, the ones that dial as
// well as the ones that listen, bounds a frame by Options.FrameTimeout.
func TestFrameTimeoutOption(t *testing.T) {
	const bound = 1234 * time.Millisecond
	for _, tr := range []Transport{TCP, TCPDial, Unix, UnixDial} {
		t.Run(string(tr), func(t *testing.T) {
			network, addr := "tcp", "127.0.0.1:0"
			if tr == Unix || tr == UnixDial {
				network, addr = "unix", t.TempDir()+"/vm.sock"
			}
			var peer net.Conn
			if tr == TCPDial || tr == UnixDial {
				ln, err := net.Listen(network, addr)
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				addr = ln.Addr().String()
			}
			r, err := Spec{Name: "vm", Transport: tr, Address: addr}.Open(Options{FrameTimeout: bound})
			if err != nil {
				t.Fatal(err)
			}
			a := timeoutAttacher{got: make(chan time.Duration, 1)}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background(), a) }()
			defer func() {
				r.Close()
				<-done
			}()
			if tr == TCP || tr == Unix {
				if peer, err = net.Dial(network, r.Spec().Address); err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
			}
			select {
			case got := <-a.got:
				if got != bound {
					t.Errorf("got a frame timeout of %v, want Options.FrameTimeout, %v", got, bound)
				}
			case <-time.After(10 * time.Second): // a guard, not a measure
				t.Fatal("no connection attached")
			}
		})
	}
}
