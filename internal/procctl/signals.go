package procctl

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Notify starts relaying the signals that stop l2hub to sigs, for Watch,
// and returns force, which ends the process on a second signal
// (ForceExit's rule), and stop, which stops the relay.
func Notify() (sigs <-chan os.Signal, force func(os.Signal), stop func()) {
	// A signal ignored when l2hub started (SIGINT, for a background job of
	// a script) would stay ignored once its default action is restored.
	ignored := map[os.Signal]bool{os.Interrupt: signal.Ignored(os.Interrupt), syscall.SIGTERM: signal.Ignored(syscall.SIGTERM)}
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	// SIGHUP (the terminal or the SSH session closed) stops l2hub as
	// SIGTERM does, so that a capture ends whole and a lab run leaves its
	// summary, unless l2hub was started with it ignored (nohup): asking
	// for it would take that protection away.
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(c, syscall.SIGHUP)
	}
	return c, func(sig os.Signal) { forceExit(sig.(syscall.Signal), ignored) }, func() { signal.Stop(c) }
}

// Watch handles sigs until done closes. The first SIGINT, SIGTERM or
// SIGHUP asks the command to stop (stop); a later SIGINT or SIGTERM ends
// the process at once (force), whatever the shutdown still waits for,
// unless it is a copy of the first: the same signal within DupWindow of
// it (by now), however many. One Ctrl-C on a terminal running "timeout
// ... l2hub" can reach l2hub three times: the terminal's to its
// foreground job, timeout's forwarded one, and timeout's kill of its own
// process group. A Ctrl-C pressed again after DupWindow, or a different
// signal, forces. A SIGHUP never forces: a terminal that closes sends its
// foreground job two (the shell's and the kernel's).
func Watch(sigs <-chan os.Signal, done <-chan struct{}, con *Console, now func() time.Time, stop func(os.Signal), force func(os.Signal)) {
	var first os.Signal
	select {
	case first = <-sigs:
	case <-done:
		return
	}
	firstAt := now()
	// The notice goes first, so that it precedes what the command says as
	// it stops, but a stderr that nobody reads must not hold the stop
	// back: after noticeWait the command stops regardless.
	noticed := make(chan struct{})
	go func() {
		con.Notice(StopNotice)
		close(noticed)
	}()
	wait := time.NewTimer(noticeWait)
	defer wait.Stop()
	said, waited := (<-chan struct{})(noticed), wait.C
	for {
		select {
		case <-said:
		case <-waited:
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			if at := now(); sig == first && at.Sub(firstAt) < DupWindow {
				continue
			}
			force(sig)
			continue
		case <-done:
			return
		}
		if said != nil { // the first of the two: stop once
			stop(first)
		}
		said, waited = nil, nil
	}
}

// StopNotice is what the first signal makes l2hub say on stderr. It
// states the rule of Watch: a Ctrl-C within DupWindow is taken for a copy
// of the first.
const StopNotice = "stopping; Ctrl-C again (SIGINT or SIGTERM, after 200ms) forces exit"

// DupWindow is how long after the first signal the same signal again is
// taken for a copy of it: the copies a terminal and coreutils timeout send
// come within microseconds, a person's second Ctrl-C rarely within 200 ms.
// StopNotice, serve's and lab's --help and the README say 200ms.
const DupWindow = 200 * time.Millisecond

// noticeWait bounds how long the stop notice may hold the stop back: a
// stderr pipe whose reader has stopped reading blocks the write.
const noticeWait = time.Second

// StopCause is why a command's context ends when a signal stops it: the
// logs and a lab's report say "stopped by SIGINT", not "context canceled".
// errors.Is(c, context.Canceled) holds.
type StopCause struct{ Sig os.Signal }

func (c StopCause) Error() string {
	if s, ok := c.Sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return "stopped by " + name
		}
	}
	return "stopped by signal " + c.Sig.String()
}

func (c StopCause) Is(target error) bool { return target == context.Canceled }

// forceExit ends the process on a second signal: by that signal, as its
// default action would (a shell sees 130 for SIGINT), unless it was
// ignored when l2hub started; then, or should it not end the process, with
// the status a shell gives a process it ended (128 + its number).
func forceExit(sig syscall.Signal, ignored map[os.Signal]bool) {
	if !ignored[sig] {
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second) // the signal's default action ends the process first
	}
	os.Exit(128 + int(sig))
}
