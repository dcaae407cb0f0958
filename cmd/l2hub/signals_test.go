package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// blockedWriter is a stderr whose reader has stopped reading: every write
// blocks until the test ends.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestStopDespiteBlockedStderr: the stop notice cannot be written (stderr
// is a pipe nobody reads), yet the first signal still stops the command,
// a second SIGHUP is passed over and a second SIGINT forces the exit.
func TestStopDespiteBlockedStderr(t *testing.T) {
	w := blockedWriter{release: make(chan struct{})}
	defer close(w.release)
	sigs := make(chan os.Signal, 4)
	done := make(chan struct{})
	defer close(done)
	cancelled := make(chan struct{})
	var stoppedBy os.Signal
	forced := make(chan os.Signal, 4)
	go watchSignals(sigs, done, &console{stderr: w}, func(s os.Signal) { stoppedBy = s; close(cancelled) }, func(s os.Signal) { forced <- s })

	sigs <- syscall.SIGTERM
	select {
	case <-cancelled:
	case <-time.After(hangGuard):
		t.Fatalf("the command was not asked to stop within %v of SIGTERM while stderr blocks", hangGuard)
	}
	if stoppedBy != syscall.SIGTERM {
		t.Errorf("stopped by %v, want SIGTERM", stoppedBy)
	}
	// The watcher takes signals in order: once SIGINT has forced the exit,
	// the SIGHUP before it was taken and passed over.
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGINT
	select {
	case s := <-forced:
		if s != syscall.SIGINT {
			t.Errorf("forced by %v, want SIGINT (a second SIGHUP does not force)", s)
		}
	case <-time.After(hangGuard):
		t.Fatalf("a second SIGINT did not force the exit within %v", hangGuard)
	}
}
