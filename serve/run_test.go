package serve_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/hub/hubtest"
	"l2hub/internal/ready"
	"l2hub/serve"
	"l2hub/transport"
)

// startRun runs serve.Run with a ready file (opts.ReadyFile, or one in a
// new directory) until the file appears or Run returns. A refused start
// gives Run's error and a nil stop; a started run gives the ready file's
// contents and stop, which cancels the run and returns Run's error (the
// test's cleanup stops it too). A run that does neither within hangGuard
// fails the test.
func startRun(t *testing.T, cfg serve.Config, opts serve.Options) (info ready.Info, stop func() error, err error) {
	t.Helper()
	if opts.ReadyFile == "" {
		opts.ReadyFile = filepath.Join(t.TempDir(), "hub.ready")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, opts) }()
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(hangGuard); ; {
		select {
		case err := <-done:
			cancel()
			return ready.Info{}, nil, err
		case <-poll.C:
		}
		if info, err := ready.Read(opts.ReadyFile); err == nil {
			var once sync.Once
			var runErr error
			stop = func() error {
				once.Do(func() {
					cancel()
					runErr = <-done
				})
				return runErr
			}
			t.Cleanup(func() { stop() })
			return info, stop, nil
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("serve.Run neither wrote its ready file %s nor returned in %v", opts.ReadyFile, hangGuard)
		}
	}
}

// runRefused returns the error of a serve.Run whose start must be refused;
// a run that starts instead (its ready file written) fails the test, and
// is stopped.
func runRefused(t *testing.T, what string, cfg serve.Config, opts serve.Options) error {
	t.Helper()
	_, stop, err := startRun(t, cfg, opts)
	if stop != nil {
		stop()
		t.Fatalf("%s: serve.Run started (its ready file was written) instead of refusing", what)
	}
	return err
}

// TestRunEnforcesTheControlToken: serve hands its control token to the
// API it serves. Through serve.Run (not a control.Server made by the
// test), a TCP control address answers a request without the token, or
// with another, 401 and changes nothing; the right token is served.
func TestRunEnforcesTheControlToken(t *testing.T) {
	const token = "run-test-token-0123456789abc"
	cfg := outputsConfig(t, "127.0.0.1:0")
	cfg.Control = "tcp:127.0.0.1:0"
	cfg.ControlToken = token
	info, _, err := startRun(t, cfg, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, bad := range []string{"", "wrong-token-0123456789abcd"} {
		err := control.NewClient(info.Control, bad).SetLink(ctx, "a", false)
		var ce *control.Error
		if !errors.As(err, &ce) || ce.Status != 401 || ce.Code != control.CodeUnauthorized {
			t.Errorf("got SetLink(a, down) through %s with token %q = %v, want 401 %s", info.Control, bad, err, control.CodeUnauthorized)
		}
	}
	ports, err := control.NewClient(info.Control, token).Ports(ctx)
	if err != nil {
		t.Fatalf("Ports with the token: %v", err)
	}
	for _, p := range ports {
		if p.Name == "a" && !p.Up() {
			t.Errorf("link a is %s: a request without the token took it down", p.Link)
		}
	}
}

// TestExplicitControlPathInUseRefusesTheStart: a --control PATH that a
// running process answers on refuses the start (ErrInUse). Only the
// default socket may be left to another hub of the same user, with a
// warning; a path the user named is what their scripts (ctl --control
// PATH) talk to, so running without it would have them steer the other hub.
func TestExplicitControlPathInUseRefusesTheStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	other, err := net.Listen("unix", path) // another hub, as far as a dial can tell
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cfg := outputsConfig(t, "127.0.0.1:0")
	cfg.Control = path
	if err := runRefused(t, "--control "+path+" in use", cfg, serve.Options{}); !errors.Is(err, control.ErrInUse) {
		t.Errorf("got serve.Run with --control %s in use = %v, want ErrInUse", path, err)
	}
}

// TestReadyFileGoesAtStop: the ready file a run wrote once bound is gone
// once Run returns: a stopped hub must not look ready to a script that
// waits for the file (l2hub wait --ready-file) or reads its addresses.
func TestReadyFileGoesAtStop(t *testing.T) {
	readyFile := filepath.Join(t.TempDir(), "hub.ready")
	_, stop, err := startRun(t, outputsConfig(t, "127.0.0.1:0"), serve.Options{ReadyFile: readyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve.Run: %v", err)
	}
	if _, err := os.Lstat(readyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the run stopped, got Lstat(%s) = %v, want the ready file removed", readyFile, err)
	}
}

// fullDisk is a capture stream on a full disk: every write fails.
type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
}

// TestCaptureWriteErrorsFailTheRun: a capture whose writes fail (a full
// disk) fails the run: Run returns the error, the summary's "stopped" says
// it rather than "signal", and the frames the capture lost count as write
// errors in the summary. CI must not read such a run as clean, nor its
// capture as complete.
func TestCaptureWriteErrorsFailTheRun(t *testing.T) {
	dir := t.TempDir()
	cfg := outputsConfig(t, "127.0.0.1:0")
	cfg.Capture.File = capture.Stdout
	cfg.Control = filepath.Join(dir, "ctl.sock")
	summaryFile := filepath.Join(dir, "summary.json")
	info, stop, err := startRun(t, cfg, serve.Options{CaptureOut: fullDisk{}, SummaryFile: summaryFile})
	if err != nil {
		t.Fatal(err)
	}
	a := dialVM(t, info.Ports[0].Addr)
	const sent = 3
	for k := range sent {
		if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, hubtest.MAC("52:54:00:12:34:0a"), fmt.Sprint("frame ", k))); err != nil {
			t.Fatal(err)
		}
	}
	ctl := control.NewClient(info.Control, "")
	waitFor(t, "the hub read a's frames", func() bool {
		ports, err := ctl.Ports(context.Background())
		return err == nil && len(ports) == 1 && ports[0].Stats.RxFrames >= sent
	})
	if err := stop(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got serve.Run = %v, want the capture's write error (ENOSPC)", err)
	}
	sum := readSummary(t, summaryFile)
	if sum.Stopped == "signal" {
		t.Errorf("got summary stopped %q, want the capture's error", sum.Stopped)
	}
	if sum.Capture == nil || sum.Capture.WriteError == 0 {
		t.Errorf("got summary capture %+v, want its frames counted as write errors", sum.Capture)
	}
}

// failingNexusRun is a nexus-v1 run that fails the check: node-a sends
// data before node-b's msg2 (SESS-003, and the handshake fails).
const failingNexusRun = "../conformance/checker/testdata/data-before-handshake.pcapng"

// TestFailedCheckFailsTheRun: a run whose live checker found a failure
// returns ErrCheckFailed (l2hub serve exits 2), as l2hub check does: CI
// reads the exit status, not the report. The VMs send the frames they
// sent in failingNexusRun, in its order.
func TestFailedCheckFailsTheRun(t *testing.T) {
	cfg := serve.DefaultConfig()
	cfg.Ports = []transport.Spec{
		{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
	}
	cfg.Control = filepath.Join(t.TempDir(), "ctl.sock")
	cfg.Check = "nexus-v1"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	info, stop, err := startRun(t, cfg, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vms := map[string]*transport.StreamConn{}
	for _, p := range info.Ports {
		vms[p.Name] = dialVM(t, p.Addr)
	}
	ctl := control.NewClient(info.Control, "")
	waitFor(t, "both VMs attached", func() bool {
		ports, err := ctl.Ports(context.Background())
		return err == nil && len(ports) == 2 && ports[0].Attached && ports[1].Attached
	})
	f, err := os.Open(failingNexusRun)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Dir != capture.DirIn { // the hub's copy out, which it makes again
			continue
		}
		from, to := vms["a"], vms["b"]
		if p.IfName == "b" {
			from, to = to, from
		}
		if err := from.WriteFrame(p.Data); err != nil {
			t.Fatal(err)
		}
		readFrame(t, to) // forwarded: the hub took it before the next one
	}
	if err := stop(); !errors.Is(err, serve.ErrCheckFailed) {
		t.Errorf("got serve.Run with --check nexus-v1 over a failing run = %v, want ErrCheckFailed", err)
	}
}
