//go:build unix

package serve_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"l2hub/internal/syncbuf"
	"l2hub/serve"
	"l2hub/transport"
)

// TestStopWhileWaitingForACaptureReader: a stop (a signal) while the
// capture waits for a reader on its named pipe ends Run with no error,
// as any stop asked for does (serve then exits 0), and the log says,
// plainly, that nothing ran.
func TestStopWhileWaitingForACaptureReader(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.pcapng")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}}
	cfg.Control = "off"
	cfg.Capture.File = fifo
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, serve.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}) }()
	for deadline := time.Now().Add(hangGuard); !strings.Contains(logs.String(), "waiting for a reader on the named pipe"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the wait for the pipe's reader; log:\n%s", logs.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run stopped while waiting for the capture pipe's reader = %v, want nil (a stop asked for)", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run still waits for the pipe's reader after its context ended")
	}
	if want := "stopped before the start: no reader came to the capture's named pipe"; !strings.Contains(logs.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, logs.String())
	}
}
