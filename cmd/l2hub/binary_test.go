package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"l2hub/hub/hubtest"
	"l2hub/internal/nobody"
	"l2hub/internal/syncbuf"
	"l2hub/internal/tied"
	"l2hub/transport"
)

// The tests here run the real l2hub binary, built once per test process.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// l2hubBinary builds ./cmd/l2hub once and returns its path; TestMain
// removes it.
func l2hubBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: builds and runs the l2hub binary; not in -short mode")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "l2hub-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "l2hub")
		// Stamp the VCS revision as a release build in a checkout would
		// (GOFLAGS may say -buildvcs=false); outside a checkout, build
		// without it.
		if _, err := exec.Command("go", "build", "-buildvcs=true", "-o", binPath, ".").CombinedOutput(); err == nil {
			return
		}
		if out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestMain runs the tests, then fails them if a goroutine they started (a
// serve session run in-process, its transports, the control API) is
// still running, and removes the binary built for them.
func TestMain(m *testing.M) {
	nobody.Main(nobody.Attacks)
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(tied.LeakIgnore), // lab's forking thread is the process's
		goleak.Cleanup(func(code int) {
			if binDir != "" {
				os.RemoveAll(binDir)
			}
			os.Exit(code)
		}))
}

// process is the l2hub binary running.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncbuf.Buffer
	stderr *syncbuf.Buffer
	done   chan error
}

// startBinary runs the l2hub binary with args (and env added to the
// test's) and waits for its banner, up to the blank line after the last
// port's flags.
func startBinary(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return waitBanner(t, launchBinary(t, env, args...), args)
}

// waitBanner waits for the banner of l2hub started with args as p.
func waitBanner(t *testing.T, p *process, args []string) *process {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		out := p.stdout.String()
		if i := strings.Index(out, "Ctrl-C stops"); i >= 0 && strings.HasSuffix(out, "\n\n") {
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("l2hub %v exited (%v) before its banner; stdout:\n%s\nstderr:\n%s", args, err, out, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("l2hub %v printed no banner within %v; stdout:\n%s\nstderr:\n%s", args, hangGuard, out, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// launchBinary starts the l2hub binary, without waiting for anything.
func launchBinary(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return launchCmd(t, env, exec.Command(l2hubBinary(t), args...))
}

// launchCmd starts cmd (that runs the l2hub binary), as launchBinary.
func launchCmd(t *testing.T, env []string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{t: t, cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// stop sends sig and returns the exit error (nil for status 0).
func (p *process) stop(sig syscall.Signal) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(hangGuard):
		p.t.Fatalf("l2hub did not exit within %v of %v; stderr:\n%s", hangGuard, sig, p.stderr.String())
		return nil
	}
}

// exchange sends a broadcast from a to b and a unicast back, through the
// hub at the two QEMU stream addresses, and returns the two clients,
// attached until the test ends.
func exchange(t *testing.T, addrA, addrB, ctl string) (a, b *transport.StreamConn) {
	t.Helper()
	a, b = dialVM(t, addrA), dialVM(t, addrB)
	waitAttached(t, ctl, 2)
	toB := hubtest.Frame(hubtest.Broadcast, macA, "a to everyone")
	if err := a.WriteFrame(toB); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, b); !bytes.Equal(got, toB) {
		t.Fatalf("b got %x, want %x", got, toB)
	}
	toA := hubtest.Frame(macA, macB, "b to a")
	if err := b.WriteFrame(toA); err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, a); !bytes.Equal(got, toA) {
		t.Fatalf("a got %x, want %x", got, toA)
	}
	return a, b
}

// checkPortSummary checks that the shutdown summary has, for each port, one
// frame received and one sent.
func checkPortSummary(t *testing.T, out string, ports ...string) {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nPORT ")
	if !ok {
		t.Fatalf("no counter summary after the signal:\n%s", out)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(table, "\n")[1:] {
		if f := strings.Fields(l); len(f) >= 3 {
			rows[f[0]] = strings.Join(f[1:3], " ")
		}
	}
	for _, p := range ports {
		if rows[p] != "1 1" {
			t.Errorf("summary: port %s has RX FRAMES TX FRAMES %q, want \"1 1\"\n%s", p, rows[p], out)
		}
	}
}

// TestBinaryServesAConfigFileUntilASignal is issue 2's SIGINT/SIGTERM: the
// real binary serves two ports from a YAML file, forwards between two
// QEMU-protocol clients, and on either signal exits with status 0 after
// printing its counters.
func TestBinaryServesAConfigFileUntilASignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"sigterm", syscall.SIGTERM}, {"sigint", syscall.SIGINT}} {
		sig := tc.sig
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl := filepath.Join(dir, "ctl.sock")
			cfg := writeConfig(t, `
mode: switch
ports:
  - {name: a, transport: tcp, address: "127.0.0.1:0"}
  - {name: b, transport: tcp, address: "127.0.0.1:0"}
`)
			p := startBinary(t, nil, "serve", "--config", cfg, "--control", ctl)
			addrs := tcpPorts(t, p.stdout.String())
			exchange(t, addrs["a"], addrs["b"], ctl)
			if err := p.stop(sig); err != nil {
				t.Fatalf("l2hub after %v: %v, want exit status 0; stderr:\n%s", sig, err, p.stderr.String())
			}
			checkPortSummary(t, p.stdout.String(), "a", "b")
			if _, err := os.Stat(ctl); err == nil {
				t.Errorf("control socket %s left behind", ctl)
			}
		})
	}
}

// startDefaultBinary starts `l2hub` with no arguments, skipping when the
// default ports are taken. run is its $XDG_RUNTIME_DIR, private to the
// test, so its default control socket is run/l2hub.sock, apart from any
// other hub's.
func startDefaultBinary(t *testing.T) (p *process, run string) {
	t.Helper()
	l2hubBinary(t)
	for _, addr := range []string{"127.0.0.1:7001", "127.0.0.1:7002"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("skipping: %s, which the default hub listens on, is busy: %v", addr, err)
		}
		l.Close()
	}
	run = t.TempDir()
	if err := os.Chmod(run, 0o700); err != nil { // XDG wants it private
		t.Fatal(err)
	}
	return startBinary(t, []string{"XDG_RUNTIME_DIR=" + run}), run
}

// TestBinaryWithNoArguments: `l2hub` alone serves ports a and b on
// 127.0.0.1:7001 and :7002.
func TestBinaryWithNoArguments(t *testing.T) {
	p, run := startDefaultBinary(t)
	addrs := tcpPorts(t, p.stdout.String())
	if addrs["a"] != "127.0.0.1:7001" || addrs["b"] != "127.0.0.1:7002" || len(addrs) != 2 {
		t.Fatalf("got ports %v, want a on 127.0.0.1:7001 and b on 127.0.0.1:7002", addrs)
	}
	exchange(t, addrs["a"], addrs["b"], filepath.Join(run, "l2hub.sock"))
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("l2hub after SIGTERM: %v, want exit status 0; stderr:\n%s", err, p.stderr.String())
	}
	checkPortSummary(t, p.stdout.String(), "a", "b")
}
