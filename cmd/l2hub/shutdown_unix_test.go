//go:build unix

package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/internal/procctl"
)

// serveStuckCapture runs l2hub serve with one port and its capture going
// to a named pipe whose reader opened it and never reads, sends more
// frames than the pipe holds, and returns the process and the pipe.
func serveStuckCapture(t *testing.T, extra ...string) (*process, string) {
	return serveStuckCaptureVia(t, nil, extra...)
}

// serveStuckCaptureVia is serveStuckCapture with l2hub started by the
// command prefix (nil: directly), which execs it.
func serveStuckCaptureVia(t *testing.T, prefix []string, extra ...string) (*process, string) {
	t.Helper()
	dir := t.TempDir()
	fifo, ctl := filepath.Join(dir, "live.pcapng"), filepath.Join(dir, "ctl.sock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	l2hubBinary(t)
	reader := make(chan *os.File, 1)
	go func() { // as a Wireshark that hangs: it opens the pipe, then reads nothing
		f, _ := os.Open(fifo)
		reader <- f
	}()
	t.Cleanup(func() {
		if f := <-reader; f != nil {
			f.Close()
		}
	})
	args := append([]string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", ctl, "--capture", fifo}, extra...)
	var p *process
	if prefix == nil {
		p = startBinary(t, nil, args...)
	} else {
		argv := append(append(slices.Clone(prefix), l2hubBinary(t)), args...)
		p = waitBanner(t, launchCmd(t, nil, exec.Command(argv[0], argv[1:]...)), args)
	}
	a := dialVM(t, tcpPorts(t, p.stdout.String())["a"])
	const n = 200 // 280 KB, where a pipe holds 64 KiB
	for i := range n {
		f := make([]byte, 1400)
		copy(f, hubtest.Frame(hubtest.Broadcast, macA, "into the capture"))
		f[len(f)-1] = byte(i)
		if err := a.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	waitRx(t, ctl, "a", n)
	return p, fifo
}

// waitOutput waits until the process's stderr holds want.
func (p *process) waitStderr(want string) {
	p.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			p.t.Fatalf("l2hub did not say %q within %v; stderr:\n%s", want, hangGuard, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A capture stream whose reader stopped reading does not hold l2hub serve
// at exit: given --capture-close-timeout to take its last data, the hub
// prints its summary and exits 1 with an error that names the capture.
func TestServeExitsWithAStuckCapture(t *testing.T) {
	p, fifo := serveStuckCapture(t, "--capture-close-timeout", "500ms")
	err := p.stop(syscall.SIGINT)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("l2hub with a stuck capture, after SIGINT: %v, want exit status 1; stderr:\n%s", err, p.stderr.String())
	}
	if out := p.stdout.String(); !strings.Contains(out, "\nPORT ") || !strings.Contains(out, "\ncapture: ") {
		t.Errorf("no summary of the ports and the capture on stdout:\n%s", out)
	}
	if want := "l2hub: capture to the named pipe " + fifo + ": writes stuck"; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, p.stderr.String())
	}
}

// forceAgain sends sig to the stopping process again until it exits: one
// within procctl.DupWindow of the first signal is taken for its copy, a
// later one forces the exit. It returns how it ended.
func (p *process) forceAgain(sig syscall.Signal) error {
	p.t.Helper()
	guard := time.After(hangGuard)
	for {
		p.cmd.Process.Signal(sig) // fails once the process has exited
		select {
		case err := <-p.done:
			p.done <- err
			return err
		case <-time.After(50 * time.Millisecond):
		case <-guard:
			p.t.Fatalf("l2hub did not exit within %v of %v sent again and again; stderr:\n%s", hangGuard, sig, p.stderr.String())
			return nil
		}
	}
}

// The first SIGINT starts the shutdown and says that a second one forces
// the exit; another (past the copy timeout's second kill would be) ends
// the process at once, by the signal, whatever the shutdown waits for
// (here, an hour for the capture's reader).
func TestSecondSignalForcesExit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			p, _ := serveStuckCapture(t, "--capture-close-timeout", "1h")
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			p.waitStderr("l2hub: " + procctl.StopNotice)
			err := p.forceAgain(sig)
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("l2hub after a second %v: %v, want it killed by the signal; stderr:\n%s", sig, err, p.stderr.String())
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("l2hub after a second %v: %v, want it killed by the signal", sig, err)
			}
		})
	}
}

// l2hub started with SIGINT ignored, as a background job of a script
// starts: the first SIGINT still stops it, and a second one still forces
// the exit (restoring SIGINT's inherited action ignored it), with the
// status a shell gives a process SIGINT ended.
func TestSecondSignalForcesExitWhenIgnoredAtStart(t *testing.T) {
	p, _ := serveStuckCaptureVia(t, []string{"sh", "-c", `trap "" INT; exec "$@"`, "sh"}, "--capture-close-timeout", "1h")
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	p.waitStderr("l2hub: " + procctl.StopNotice)
	err := p.forceAgain(syscall.SIGINT)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("l2hub (SIGINT ignored at start) after a second SIGINT: %v, want exit status 130; stderr:\n%s", err, p.stderr.String())
	}
}

// A terminal that closes sends its foreground job SIGHUP twice (the
// shell's and the kernel's): the second does not force the exit, so the
// shutdown goes on to its end (here, a stuck capture given 500 ms: exit 1
// with the summary), as after one.
func TestSecondSIGHUPDoesNotForceExit(t *testing.T) {
	p, _ := serveStuckCapture(t, "--capture-close-timeout", "500ms")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitStderr("l2hub: " + procctl.StopNotice)
	err := p.stop(syscall.SIGHUP)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("l2hub with a stuck capture, after two SIGHUPs: %v, want exit status 1 (not killed by the second); stderr:\n%s", err, p.stderr.String())
	}
	if out := p.stdout.String(); !strings.Contains(out, "\nPORT ") {
		t.Errorf("no summary of the ports on stdout after two SIGHUPs:\n%s", out)
	}
}

// SIGHUP, as when the terminal or SSH session that started serve closes,
// stops it as SIGTERM does: the capture ends whole and the counters are
// printed, with exit status 0.
func TestSIGHUPStopsServeCleanly(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "run.pcapng")
	p := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--capture", capture)
	if err := p.stop(syscall.SIGHUP); err != nil {
		t.Fatalf("l2hub serve after SIGHUP: %v, want exit status 0; stderr:\n%s", err, p.stderr.String())
	}
	if out := p.stdout.String(); !strings.Contains(out, "\nPORT ") || !strings.Contains(out, "\ncapture: ") {
		t.Errorf("no summary of the ports and the capture on stdout after SIGHUP:\n%s", out)
	}
	if fi, err := os.Stat(capture); err != nil || fi.Size() == 0 {
		t.Errorf("capture after SIGHUP: %v, want a written file", err)
	}
	if want := `reason="stopped by SIGHUP"`; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("the log does not say why serve stopped (%s):\n%s", want, p.stderr.String())
	}
}

// Started under nohup (SIGHUP ignored), serve keeps running through
// SIGHUP, as nohup promises; SIGTERM still stops it.
func TestSIGHUPIgnoredAtStartStaysIgnored(t *testing.T) {
	args := []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off"}
	argv := append([]string{"sh", "-c", `trap "" HUP; exec "$@"`, "sh", l2hubBinary(t)}, args...)
	p := waitBanner(t, launchCmd(t, nil, exec.Command(argv[0], argv[1:]...)), args)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// serve would say it stops at once; give a SIGHUP that is not
	// ignored the time to show, then check that it did not.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("l2hub serve under nohup exited on SIGHUP (%v); stderr:\n%s", err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if strings.Contains(p.stderr.String(), "stopping") {
		t.Fatalf("l2hub serve under nohup began to stop on SIGHUP; stderr:\n%s", p.stderr.String())
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("l2hub serve after SIGTERM: %v, want exit status 0; stderr:\n%s", err, p.stderr.String())
	}
}

// A capture to a named pipe no reader has opened yet: serve says it waits
// for one, and Ctrl-C ends the wait (it used to block in open(2), silent
// and deaf to signals, with its ports already listening).
func TestServeWaitingForACaptureReaderStops(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	l2hubBinary(t)
	p := launchBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--capture", fifo)
	p.waitStderr("waiting for a reader on the named pipe")
	err := p.stop(syscall.SIGINT)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("l2hub stopped while waiting for a reader: %v, want exit status 1; stderr:\n%s", err, p.stderr.String())
	}
	if want := "stopped while waiting for a reader on the named pipe " + fifo; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, p.stderr.String())
	}
}

// ctl set-policy on a hub whose capture stream's reader has stopped
// reading: the policy takes over and the answer comes, without waiting
// for the capture's new file (it waited until the client gave up, 30s).
func TestSetPolicyWithAStuckCapture(t *testing.T) {
	p, _ := serveStuckCapture(t, "--capture-close-timeout", "500ms")
	ctlSock := ""
	for i, a := range p.cmd.Args {
		if a == "--control" {
			ctlSock = p.cmd.Args[i+1]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a guard below the client's 30s
	defer cancel()
	if err := control.NewClient(ctlSock, "").ReplacePolicy(ctx, "p.yaml", []byte("seed: 9\n")); err != nil {
		t.Fatalf("set-policy with a stuck capture: %v", err)
	}
}

// TestFailedCheckExitsTwoWhenStopped: a live --check that failed (no
// DSoftBus traffic at all) makes serve exit 2 however a signal stopped it,
// as the README says, so that a CI job that stops the hub sees it.
func TestFailedCheckExitsTwoWhenStopped(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--check", "nexus-v1")
			err := p.stop(sig)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(p.stderr.String(), "conformance checks failed") {
				t.Errorf("l2hub serve --check after %v: %v, want exit status 2 (conformance checks failed); stderr:\n%s", sig, err, p.stderr.String())
			}
		})
	}
}
