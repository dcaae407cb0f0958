//go:build unix

package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBuildStopsOnAFIFO: BuildContext on a FIFO stops when its context
// ends, both while it waits for a writer to open the FIFO (a report
// started before the hub it reads: the review, the open ignored the first
// Ctrl-C) and while it waits for a stalled writer's next record.
func TestBuildStopsOnAFIFO(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writer bool // a writer opens the FIFO, writes the capture's start and stalls
	}{{"no-writer", false}, {"stalled-writer", true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live.pcapng")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			// Whatever happens, release a reader still waiting, so that
			// no test goroutine outlives the test.
			defer func() {
				if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			}()
			wrote := make(chan *os.File, 1)
			if tc.writer {
				head := readFile(t, failingRun)[:4096]
				go func() {
					w, err := os.OpenFile(path, os.O_WRONLY, 0)
					if err != nil {
						wrote <- nil
						return
					}
					_, _ = w.Write(head)
					wrote <- w // held open: the report waits for more
				}()
			}
			ctx, cancel := context.WithCancel(context.Background())
			built := make(chan error, 1)
			go func() {
				_, err := BuildContext(ctx, Options{Capture: path})
				built <- err
			}()
			blocked := "os.openFileNolog" // waiting for a writer
			if tc.writer {
				w := <-wrote
				if w == nil {
					t.Fatal("the writer could not open the FIFO")
				}
				defer w.Close()
				blocked = "internal/poll.(*pollDesc).waitRead" // waiting for more
			}
			waitInBuild(t, blocked, built)
			cancel()
			select {
			case err := <-built:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("got BuildContext() = %v, want context.Canceled", err)
				}
			case <-time.After(time.Minute): // a hang guard, not a bound
				t.Fatal("BuildContext did not return after its context was cancelled")
			}
		})
	}
}

// waitInBuild waits until a goroutine of BuildContext has frame on its
// stack (where it blocks), or BuildContext returned (built, left for the
// caller to read).
func waitInBuild(t *testing.T, frame string, built chan error) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 60000 { // a hang guard of about a minute, not a bound
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			ours := strings.Contains(g, "report.BuildContext") || strings.Contains(g, "capture.OpenFile") // the open may run apart
			if ours && strings.Contains(g, frame) {
				return
			}
		}
		if len(built) > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("BuildContext never reached %s", frame)
}
