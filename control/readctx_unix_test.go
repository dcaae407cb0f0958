//go:build unix

package control_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"l2hub/control"
)

// openWriter opens fifo's write end once a reader has opened it (or
// waits in its open), and returns it: with a writer that writes nothing,
// the reader then blocks in its read.
func openWriter(t *testing.T, fifo string) *os.File {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return w
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("open %s for writing: %v", fifo, err)
		}
		time.Sleep(time.Millisecond) // no reader yet
	}
}

// wantCause waits for the error of a read of what (done) that a context
// ended, and checks that it is the context's cause; a read that does not
// end within hangGuard fails the test.
func wantCause(t *testing.T, done <-chan error, cause error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, cause) {
			t.Errorf("got %v, want the context's cause", err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("the read of %s did not end with its context", what)
	}
}

// TestTokenFileFIFOEndsWithTheContext: a token file that is a FIFO no one
// writes blocks its read where no context reaches; the read still returns,
// with the context's cause, once the context ends (the first Ctrl-C).
func TestTokenFileFIFOEndsWithTheContext(t *testing.T) {
	for name, read := range map[string]func(ctx context.Context, fifo string) (string, error){
		"file": control.ReadTokenFileContext,
		"flags": func(ctx context.Context, fifo string) (string, error) {
			return (&control.TokenFlags{File: fifo}).TokenContext(ctx)
		},
	} {
		t.Run(name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "tok")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			stop := errors.New("stopped by SIGTERM")
			ctx, cancel := context.WithCancelCause(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := read(ctx, fifo)
				done <- err
			}()
			w := openWriter(t, fifo)
			defer w.Close() // the abandoned read ends at EOF
			cancel(stop)
			wantCause(t, done, stop, "a FIFO no one writes")
		})
	}
}

// TestRuleFromStdinEndsWithTheContext: ctl rule add --file - reads
// standard input, which may never end (a terminal, a pipe no one
// writes); the read returns with the context's cause once it ends.
func TestRuleFromStdinEndsWithTheContext(t *testing.T) {
	var src control.RuleSource
	fs := pflag.NewFlagSet("rule", pflag.ContinueOnError)
	src.Register(fs)
	if err := fs.Parse([]string{"--file", "-"}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close() // the abandoned read ends at EOF
	stop := errors.New("stopped by SIGINT")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := src.ReadContext(ctx, pr, "x")
		done <- err
	}()
	if _, err := pw.Write([]byte("# a rule that never ends\n")); err != nil { // read: the read has begun
		t.Fatal(err)
	}
	cancel(stop)
	wantCause(t, done, stop, "standard input")
}
