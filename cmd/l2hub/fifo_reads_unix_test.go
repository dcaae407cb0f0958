//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/procctl"
)

// TestFIFOReadsEndOnTheFirstSignal: a token, policy or rule file that is a
// FIFO no one writes blocks its read where no context reaches; ctl, wait
// and serve still stop on the first signal (their context's end), rather
// than wait for a second one or for the FIFO to close.
func TestFIFOReadsEndOnTheFirstSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(fifo, dir string) []string
	}{
		{"ctl-token", func(fifo, dir string) []string {
			return []string{"ctl", "--control", filepath.Join(dir, "c.sock"), "--control-token-file", fifo, "ports"}
		}},
		{"ctl-set-policy", func(fifo, dir string) []string {
			return []string{"ctl", "--control", filepath.Join(dir, "c.sock"), "set-policy", fifo}
		}},
		{"ctl-rule-file", func(fifo, dir string) []string {
			return []string{"ctl", "--control", filepath.Join(dir, "c.sock"), "rule", "add", "x", "--file", fifo}
		}},
		{"wait-token", func(fifo, dir string) []string {
			return []string{"wait", "--control", filepath.Join(dir, "c.sock"), "--control-token-file", fifo}
		}},
		{"inject-token", func(fifo, dir string) []string {
			return []string{"inject", writeInjectCapture(t, dir, 1), "--into", "b", "--control", filepath.Join(dir, "c.sock"), "--control-token-file", fifo}
		}},
		{"serve-token", func(fifo, dir string) []string {
			return []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0", "--control-token-file", fifo}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			args := tc.args(fifo, dir)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, io.Discard, io.Discard) }()
			// Once the command has the FIFO open (or waits in its open), a
			// writer that writes nothing leaves it blocked in its read.
			deadline := time.Now().Add(hangGuard)
			var w *os.File
			for {
				var err error
				if w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					break
				}
				if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
					t.Fatalf("open the FIFO for writing: %v", err)
				}
				time.Sleep(time.Millisecond) // no reader yet
			}
			defer w.Close() // the abandoned read ends at EOF
			cancel(procctl.StopCause{Sig: syscall.SIGTERM})
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) || err.Error() != "stopped by SIGTERM" {
					t.Errorf("l2hub %q stopped with %v, want stopped by SIGTERM", args, err)
				}
			case <-time.After(hangGuard):
				t.Fatalf("l2hub %q, reading a FIFO no one writes, did not stop on the first signal", args)
			}
		})
	}
}
