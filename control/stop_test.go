package control_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

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
	go func() { served <- (&control.Server{Target: target}).Serve(ctx, l) }()

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
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
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
