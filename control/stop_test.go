package control_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/hub"
)

// TestIdleInjectionEndsAtStop: an injection stream that sends nothing
// (its client waits for a frame's time) does not hold the server's stop
// for the grace, nor outlive Serve reading: Serve returns, and the stream
// is answered 503 stopped with the frames it sent, before the client
// sends anything more.
func TestIdleInjectionEndsAtStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := control.Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	target := newFakeTarget()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	// The idle timeout is far past the hang guard: only the stop ends
	// the stream's wait for its next record.
	go func() { served <- (&control.Server{Target: target, IdleTimeout: time.Hour}).Serve(ctx, l) }()

	body, stream := io.Pipe()
	type result struct {
		res control.InjectResponse
		err error
	}
	answered := make(chan result, 1)
	go func() {
		res, err := control.NewClient(path, "").Inject(context.Background(), "a", body)
		answered <- result{res, err}
	}()
	go stream.Write(control.AppendInjectFrame(nil, make([]byte, 60)))
	<-target.injected // the first frame is in; the stream idles
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(hangGuard):
		stream.Close()
		t.Fatal("Serve held by an idle injection stream")
	}
	// The handler answered before its connection closed, and Serve waits
	// for that: none may be reading the stream now.
	buf := make([]byte, 1<<20)
	if dump := string(buf[:runtime.Stack(buf, true)]); strings.Contains(dump, "l2hub/control.(*Server).inject(") {
		t.Error("the stream's handler outlived Serve, still reading")
		stream.Close() // the stream ends: the handler answers
	}
	got := <-answered
	stream.Close()
	var ce *control.Error
	if !errors.As(got.err, &ce) || !errors.Is(got.err, hub.ErrStopped) || ce.Frames == nil || *ce.Frames != 1 {
		t.Errorf("InjectStream = %+v, %v; want a 503 stopped that took 1 frame", got.res, got.err)
	}
}

// floodTarget takes every frame injected into port "a", and says when it
// has taken at frames.
type floodTarget struct {
	*fakeTarget
	at      int64
	n       atomic.Int64
	reached chan struct{}
}

func (f *floodTarget) Inject(_ context.Context, port string, _ []byte) error {
	if port != "a" {
		return hub.ErrNoPort
	}
	if f.n.Add(1) == f.at {
		close(f.reached)
	}
	return nil
}

// TestSendingInjectionIsAnsweredAtStop: an injection stream still
// sending as the server stops is answered 503 stopped with the frames it
// took, as an idle one is: the client reads that answer, not a broken
// pipe or a reset from a connection closed with its stream unread.
func TestSendingInjectionIsAnsweredAtStop(t *testing.T) {
	const token = "a-token-long-enough-for-tcp"
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			for run := range 5 { // a lost answer is a race: each run is a chance to lose it
				addr := filepath.Join(t.TempDir(), "ctl.sock")
				if network == "tcp" {
					addr = "tcp:127.0.0.1:0"
				}
				l, err := control.Listen(addr, token)
				if err != nil {
					t.Fatal(err)
				}
				target := &floodTarget{fakeTarget: newFakeTarget(), at: 50, reached: make(chan struct{})}
				ctx, cancel := context.WithCancel(context.Background())
				served := make(chan error, 1)
				go func() { served <- (&control.Server{Target: target, Token: token}).Serve(ctx, l) }()
				answered := make(chan error, 1)
				go func() {
					_, err := control.NewClient(control.Addr(l), token).InjectStream(context.Background(), "a", func(send func([]byte) error) {
						frame := make([]byte, 60)
						for send(frame) == nil {
						}
					})
					answered <- err
				}()
				<-target.reached
				cancel()
				if err := <-served; err != nil {
					t.Errorf("Serve: %v", err)
				}
				err = <-answered
				var ce *control.Error
				if !errors.As(err, &ce) || !errors.Is(err, hub.ErrStopped) || ce.Frames == nil || int64(*ce.Frames) != target.n.Load() {
					t.Fatalf("run %d: InjectStream = %v; want a 503 stopped that took the %d frames injected", run, err, target.n.Load())
				}
			}
		})
	}
}
