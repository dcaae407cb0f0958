package procctl

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangGuard bounds a wait for something that must happen, so that a bug
// fails with a message rather than at go test's timeout; it decides no
// pass.
const hangGuard = 2 * time.Minute

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
	go Watch(sigs, done, NewConsole(w), time.Now, func(s os.Signal) { stoppedBy = s; close(cancelled) }, func(s os.Signal) { forced <- s })

	sigs <- syscall.SIGTERM
	select {
	case <-cancelled:
	case <-time.After(hangGuard):
		t.Fatalf("the command was not asked to stop within %v of SIGTERM while stderr blocks", hangGuard)
	}
	if stoppedBy != syscall.SIGTERM {
		t.Errorf("stopped by %v, want SIGTERM", stoppedBy)
	}
	// The watcher takes signals in order: once SIGINT (not a copy of the
	// first, SIGTERM) has forced the exit, the SIGHUP before it was taken
	// and passed over.
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

// stepClock is a clock the test moves: each call to now takes the next
// reading from at, so that the watcher reads the time the test gives for
// the signal it has just taken.
type stepClock struct{ at chan time.Time }

func (c stepClock) now() time.Time { return <-c.at }

// TestSignalCopies: one Ctrl-C on a terminal running "timeout ... l2hub"
// reaches l2hub up to three times (the terminal's, timeout's forwarded
// one, timeout's kill of its process group), so the same signal again
// within DupWindow of the first, however often, is a copy and does not
// force the exit; the same signal later, or a different one, does.
func TestSignalCopies(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type sig struct {
		s  syscall.Signal
		at time.Duration // after the first
	}
	for _, tc := range []struct {
		name  string
		after []sig // after the first, a SIGTERM at t0
		force int   // index in after of the signal that forces; -1 none
	}{
		{"timeout-copy", []sig{{syscall.SIGTERM, 0}}, -1},
		{"copy-just-inside-window", []sig{{syscall.SIGTERM, DupWindow - time.Millisecond}}, -1},
		{"same-after-window", []sig{{syscall.SIGTERM, DupWindow}}, 0},
		{"three-copies", []sig{{syscall.SIGTERM, 0}, {syscall.SIGTERM, time.Microsecond}}, -1},
		{"four-copies", []sig{{syscall.SIGTERM, 0}, {syscall.SIGTERM, time.Microsecond}, {syscall.SIGTERM, 150 * time.Millisecond}}, -1},
		{"three-copies-then-ctrl-c", []sig{{syscall.SIGTERM, 0}, {syscall.SIGTERM, time.Microsecond}, {syscall.SIGTERM, DupWindow + time.Millisecond}}, 2},
		{"different-forces", []sig{{syscall.SIGINT, 0}}, 0},
		{"sighup-passed-over", []sig{{syscall.SIGHUP, 0}, {syscall.SIGTERM, 0}, {syscall.SIGHUP, 0}}, -1},
		{"copy-then-late-forces", []sig{{syscall.SIGTERM, 0}, {syscall.SIGTERM, 5 * time.Second}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigs := make(chan os.Signal) // unbuffered: a send returns once the watcher took it
			done := make(chan struct{})
			clock := stepClock{at: make(chan time.Time)}
			forced := make(chan os.Signal, 8)
			exited := make(chan struct{})
			var out strings.Builder
			go func() {
				Watch(sigs, done, NewConsole(&out), clock.now, func(os.Signal) {}, func(s os.Signal) { forced <- s })
				close(exited)
			}()
			sigs <- syscall.SIGTERM
			clock.at <- t0
			for _, s := range tc.after {
				sigs <- s.s
				if s.s != syscall.SIGHUP {
					clock.at <- t0.Add(s.at)
				}
			}
			close(done)
			<-exited
			close(forced)
			var got []os.Signal
			for s := range forced {
				got = append(got, s)
			}
			var want []os.Signal
			if tc.force >= 0 {
				want = []os.Signal{tc.after[tc.force].s}
			}
			if len(got) != len(want) || (len(want) == 1 && got[0] != want[0]) {
				t.Errorf("signals that forced the exit: got %v, want %v", got, want)
			}
		})
	}
}

// TestStopNoticeStatesTheWindow: the stop notice tells the user after how
// long a second Ctrl-C forces the exit: DupWindow, not a copy of it that
// could drift.
func TestStopNoticeStatesTheWindow(t *testing.T) {
	if w := DupWindow.String(); !strings.Contains(StopNotice, "after "+w+")") {
		t.Errorf("got StopNotice %q, want it to state DupWindow (after %s)", StopNotice, w)
	}
}
