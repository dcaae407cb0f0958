// inject.go holds POST /v1/inject/{port}'s stream: its framing (a 4-byte
// length before each frame, AppendInjectFrame), the loop that reads it
// and hands each frame to the Target, held back while an InjectFlow's
// port has no room, and the answer that counts what the port dropped.
// The route itself, with its own places beyond MaxConns, is in routes.go.

package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"l2hub/hub"
	"l2hub/internal/yamlfile"
)

// MaxInjectFrame bounds one frame of an injection stream: QEMU's own
// receive limit, the largest frame a hub port ever carries.
const MaxInjectFrame = hub.DefaultMaxFrame

// InjectResponse is the answer to POST /v1/inject/{port}.
type InjectResponse struct {
	Port   string `json:"port"`
	Frames int    `json:"frames"`
	Bytes  int64  `json:"bytes"`
	// Dropped counts, by reason, the frames the port dropped rather than
	// queue for its VM (port-down, policy), when the Target says
	// (InjectFlow). Drops for flow control make the answer
	// an error instead (ErrInjectDropped), unless frames also found no VM.
	Dropped map[string]int `json:"dropped,omitempty"`
}

// injectError is an injection the hub ended at frame Took+1: its answer
// says Took as ErrorResponse.Frames, beside the words.
type injectError struct {
	err  error
	took int
}

func (e *injectError) Error() string { return e.err.Error() }
func (e *injectError) Unwrap() error { return e.err }

// dropError is an injection read to its end whose frames the port dropped
// for flow control (it wraps ErrInjectDropped): its answer carries the
// drops by reason as ErrorResponse.Dropped, beside the words.
type dropError struct {
	err     error
	dropped map[string]int
}

func (e *dropError) Error() string { return e.err.Error() }
func (e *dropError) Unwrap() error { return e.err }

// hasPort refuses a port the target does not have, before an injection
// stream is read: a client pacing its frames hears of a typo at once, not
// when its first frame is due.
func (s *Server) hasPort(ctx context.Context, port string) error {
	ports, err := s.Target.Ports(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		if p.Name == port {
			return nil
		}
		names[i] = p.Name
	}
	return &UserError{fmt.Errorf("inject into %s: %w (ports: %s)", yamlfile.Quote(port), hub.ErrNoPort, strings.Join(names, ", "))}
}

// inject hands each frame of an injection stream to the target as it
// arrives: the body is a sequence of frames, each preceded by its length as a
// 4-byte big-endian integer (the framing of QEMU's stream back end), so a
// client paces frames by when it writes them. A length outside
// [hub.EthHeaderLen, MaxInjectFrame] or a stream cut inside a frame ends the
// request; the frames before it have been sent. A zero length is a
// keepalive: no frame. idle is called before each record is read. A target
// that is an InjectFlow holds the stream back, before each record, while
// the port has no room, as it would a VM sending to it; the frames it
// dropped for flow control fail the request once the stream ends
// (ErrInjectDropped). Once stop ends (the server stops), a wait for room
// or a record ends the stream, answered errStopping.
func (s *Server) inject(ctx, stop context.Context, port string, body io.Reader, idle func()) (any, error) {
	res := InjectResponse{Port: port}
	flow, _ := s.Target.(InjectFlow)
	br := bufio.NewReaderSize(body, 64<<10)
	var hdr [4]byte
	var buf []byte
	dropped := make(map[hub.DropReason]int)
	// failed says why frame res.Frames+1 went no further, naming the port
	// and the frame once.
	failed := func(err error) error {
		return &injectError{fmt.Errorf("inject into %s: frame %d: %w (%d frames sent before it)", yamlfile.Quote(port), res.Frames+1, err, res.Frames), res.Frames}
	}
	fail := func(err error) error { return &UserError{failed(err)} }
	// A wait for room reads nothing, so the connection's read deadline
	// does not bound it and the server does not see the client go: the
	// idle timeout bounds it instead, so an injection the client gave up
	// on frees its slot.
	held := fmt.Errorf("port %s held the injection back for %v (the idle timeout): its VM reads slower than the injection sends, or not at all", yamlfile.Quote(port), s.idleTimeout())
	// Waits for room end with the stream's request, and as the server stops.
	wait, endWait := context.WithCancel(ctx)
	defer endWait()
	defer context.AfterFunc(stop, endWait)()
	// Each wait's context is its own timer's to cancel: a timer that fires
	// as room comes has started its function, which may run after the
	// next wait began, and must not end that one.
	var (
		wctx   context.Context
		cancel context.CancelCauseFunc
		timer  hub.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
			cancel(nil)
		}
	}()
	for {
		if flow != nil {
			if timer == nil {
				c, cancelC := context.WithCancelCause(wait)
				wctx, cancel = c, cancelC
				timer = s.afterFunc(s.idleTimeout(), func() { cancelC(held) })
			} else {
				timer.Reset(s.idleTimeout())
			}
			err := flow.WaitRoom(wctx, port)
			if !timer.Stop() && err == nil { // room came as the timeout fired: the next wait takes a fresh context and timer
				cancel(nil)
				timer = nil
			}
			if err != nil {
				switch {
				case stop.Err() != nil:
					err = errStopping
				case context.Cause(wctx) == held:
					err = held
				}
				return nil, s.injectErr(err, fail, failed, 0)
			}
		}
		idle()
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			switch {
			case err == io.EOF:
				return injectDone(res, dropped)
			case stop.Err() != nil:
				return nil, failed(errStopping)
			case err == io.ErrUnexpectedEOF:
				return nil, fail(errors.New("the stream ends inside a length prefix"))
			}
			return nil, fail(fmt.Errorf("read: %w", err))
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			continue
		}
		if n < hub.EthHeaderLen || n > MaxInjectFrame {
			return nil, fail(fmt.Errorf("length %d is outside %d..%d bytes", n, hub.EthHeaderLen, MaxInjectFrame))
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if got, err := io.ReadFull(br, buf); err != nil {
			if stop.Err() != nil {
				return nil, failed(errStopping)
			}
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return nil, fail(fmt.Errorf("the stream ends %d bytes into a %d-byte frame", got, n))
			}
			return nil, fail(fmt.Errorf("read: %w", err))
		}
		var err error
		if flow != nil {
			var r hub.DropReason
			if r, err = flow.InjectFrame(ctx, port, buf); err == nil && r != hub.DropNone {
				dropped[r]++
			}
		} else {
			err = s.Target.Inject(ctx, port, buf)
		}
		if err != nil {
			return nil, s.injectErr(err, fail, failed, n)
		}
		res.Frames++
		res.Bytes += int64(n)
	}
}

// injectErr is the answer to an injection the target failed, saying in the
// API's own words what it tells apart: the target's error may name the
// port too (hub.Inject's does).
func (s *Server) injectErr(err error, fail, failed func(error) error, n uint32) error {
	switch {
	case errors.Is(err, hub.ErrNoPort):
		return fail(hub.ErrNoPort)
	case errors.Is(err, hub.ErrFrameTooLarge):
		return fail(fmt.Errorf("%d bytes: %w", n, hub.ErrFrameTooLarge))
	case err == errStopping:
		return failed(err)
	case errors.Is(err, hub.ErrStopped):
		return failed(hub.ErrStopped)
	}
	return failed(err)
}

// injectDone is the answer to an injection stream read to its end: res,
// with the frames the port dropped by reason, or ErrInjectDropped when it
// dropped some for flow control. Frames that found no VM are left to the
// client to report as such (its VM went away; port-down), with the rest.
func injectDone(res InjectResponse, dropped map[hub.DropReason]int) (any, error) {
	var reasons []string
	lost := 0
	for _, reason := range hub.DropReasons() {
		n := dropped[reason]
		if n == 0 {
			continue
		}
		if res.Dropped == nil {
			res.Dropped = make(map[string]int)
		}
		res.Dropped[reason.String()] = n
		text := fmt.Sprintf("%s=%d", reason, n)
		if why, ok := flowDropWhy[reason]; ok {
			text += ": " + why
			lost += n
		}
		reasons = append(reasons, text)
	}
	if lost == 0 || dropped[hub.DropDown] > 0 {
		return res, nil
	}
	return nil, &dropError{fmt.Errorf("inject into %s: %d of the %d frames sent were %w (%s)",
		yamlfile.Quote(res.Port), lost, res.Frames, ErrInjectDropped, strings.Join(reasons, "; ")), res.Dropped}
}

// flowDropWhy says what each flow-control drop of an injected frame means.
var flowDropWhy = map[hub.DropReason]string{
	hub.DropQueueFull:   "the port tail-drops (overflow: drop) and its VM took the frames slower than they came",
	hub.DropStalled:     "its VM read nothing for the port's stall time",
	hub.DropBacklogFull: "the port's backlog was full",
}

// AppendInjectFrame appends frame to dst as one record of an injection
// stream: its length as a 4-byte big-endian integer, then the bytes.
func AppendInjectFrame(dst, frame []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(frame)))
	return append(dst, frame...)
}

// AppendInjectKeepalive appends a keepalive record (a zero length) to dst.
func AppendInjectKeepalive(dst []byte) []byte {
	return binary.BigEndian.AppendUint32(dst, 0)
}
