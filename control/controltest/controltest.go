package controltest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"l2hub/control"
)

// Serve serves srv on a unix socket until the test ends and returns the
// socket's path. The socket is in a directory of its own under the
// system's temporary directory, not tb.TempDir, whose long paths can pass
// a socket path's limit (control.Listen refuses them). The test fails if
// Serve returns an error, whenever it does.
func Serve(tb testing.TB, srv *control.Server) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "l2hctl")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) }) // after the server's cleanup: cleanups run last first
	path := filepath.Join(dir, "ctl.sock")
	l, err := control.Listen(path, "")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("control.Server.Serve: %v", err)
		}
	})
	return path
}

// ServeTarget serves target's control API, with the server's defaults
// and no token, as Serve does, and returns the socket's path.
func ServeTarget(tb testing.TB, target control.Target) string {
	tb.Helper()
	return Serve(tb, &control.Server{Target: target})
}

// Client serves target as ServeTarget does and returns a client of it.
func Client(tb testing.TB, target control.Target) *control.Client {
	tb.Helper()
	return control.NewClient(ServeTarget(tb, target), "")
}
