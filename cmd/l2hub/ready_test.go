package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/internal/ready"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
)

// runServe runs serve in-process with args until the returned stop is
// called; stop returns run's error.
func runServe(t *testing.T, args ...string) (stdout, stderr *syncbuf.Buffer, stop func() error) {
	t.Helper()
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), stdout, stderr) }()
	var once bool
	var err error
	stop = func() error {
		if once {
			return err
		}
		once = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(hangGuard):
			t.Fatalf("serve did not stop within %v", hangGuard)
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// A harness starts the hub in the background and waits for its ready
// file with l2hub wait before it starts any VM; at the end the summary is
// JSON on stdout and in the --summary file.
func TestReadyFileWaitAndSummary(t *testing.T) {
	dir := t.TempDir()
	readyPath, sumPath, ctl := filepath.Join(dir, "hub.ready"), filepath.Join(dir, "summary.json"), filepath.Join(dir, "ctl.sock")
	stdout, stderr, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--port", "b=unix:"+filepath.Join(dir, "b.sock"),
		"--control", ctl, "--ready-file", readyPath, "--summary", sumPath, "--json")

	var waitOut bytes.Buffer
	if err := run(context.Background(), []string{"wait", "--ready-file", readyPath, "--timeout", hangGuard.String(), "--json"}, &waitOut, io.Discard); err != nil {
		t.Fatalf("wait: %v; serve's stderr:\n%s", err, stderr.String())
	}
	var info ready.Info
	if err := json.Unmarshal(waitOut.Bytes(), &info); err != nil {
		t.Fatalf("wait --json: %v\n%s", err, waitOut.String())
	}
	if info.PID != os.Getpid() || info.Control != ctl || len(info.Ports) != 2 {
		t.Fatalf("ready file says %+v, want this process, %s and two ports", info, ctl)
	}
	a, b := info.Ports[0], info.Ports[1]
	if a.Name != "a" || a.Transport != "tcp" || strings.HasSuffix(a.Addr, ":0") ||
		a.Netdev != "stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port="+a.Addr[strings.LastIndex(a.Addr, ":")+1:] {
		t.Errorf("port a in the ready file: %+v (want its bound address and -netdev value)", a)
	}
	if b.Name != "b" || b.Transport != "unix" || !strings.HasSuffix(b.Addr, "b.sock") {
		t.Errorf("port b in the ready file: %+v", b)
	}
	// Ready means bound: both ports take a VM now, on the first try.
	va := dialVM(t, a.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", b.Addr)
	if err != nil {
		t.Fatalf("port b is in the ready file but does not take a VM: %v", err)
	}
	c.Close()
	waitAttached(t, ctl, 1)
	if err := va.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "counted")); err != nil {
		t.Fatal(err)
	}
	var waitCtl bytes.Buffer
	if err := run(context.Background(), []string{"wait", "--control", ctl, "--timeout", hangGuard.String()}, &waitCtl, io.Discard); err != nil ||
		waitCtl.String() != "l2hub ready: 2 ports\n" {
		t.Errorf("wait --control: %q, %v", waitCtl.String(), err)
	}
	waitRx(t, ctl, "a", 1)

	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(readyPath); !os.IsNotExist(err) {
		t.Errorf("the ready file outlived the hub: %v", err)
	}
	if !strings.Contains(stderr.String(), "Ctrl-C stops") {
		t.Errorf("with --json the banner belongs on stderr; stderr:\n%s", stderr.String())
	}
	var sum serve.Summary
	if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary alone: %v\n%s", err, stdout.String())
	}
	if sum.Stopped != "signal" || len(sum.Ports) != 2 || sum.Ports[0].Name != "a" || sum.Ports[0].Stats.RxFrames != 1 {
		t.Errorf("summary %+v, want a clean stop and a's one frame", sum)
	}
	file, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, []byte(stdout.String())) {
		t.Errorf("--summary file differs from the printed summary:\n%s\nvs\n%s", file, stdout.String())
	}
}

// waitRx polls the control API until port has received n frames.
func waitRx(t *testing.T, ctl, port string, n uint64) {
	t.Helper()
	c := control.NewClient(ctl, "")
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		ports, err := c.Ports(context.Background())
		if err == nil {
			for _, p := range ports {
				if p.Name == port && p.Stats.RxFrames >= n {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("port %s did not receive %d frames within %v", port, n, hangGuard)
}

func TestWaitGivesUp(t *testing.T) {
	err := run(context.Background(), []string{"wait", "--ready-file", filepath.Join(t.TempDir(), "none"), "--timeout", "50ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not ready after 50ms: no ready file") || strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("wait on a missing file: %v, want why in plain words", err)
	}
	err = run(context.Background(), []string{"wait", "--control", filepath.Join(t.TempDir(), "none.sock"), "--timeout", "50ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not ready after 50ms") {
		t.Errorf("wait on a missing control socket: %v", err)
	}
}

// TestWaitTakesOneTarget: a ready file and a control address together are
// refused in control's own words, which say what to give instead.
func TestWaitTakesOneTarget(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"wait", "--ready-file", filepath.Join(dir, "r.json"), "--control", filepath.Join(dir, "c.sock")}, io.Discard, io.Discard)
	if want := "give one, the hub's ready file or its control address"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("wait --ready-file F --control A: %v, want an error saying %q", err, want)
	}
}

// Under systemd (Type=notify) the hub says READY=1 when it is bound and
// STOPPING=1 when it stops.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	_, _, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--control", "off")
	buf := make([]byte, 1024)
	l.SetReadDeadline(time.Now().Add(hangGuard))
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.HasPrefix(msg, "READY=1\n") || !strings.Contains(msg, "MAINPID=") || !strings.Contains(msg, "STATUS=serving 1 port (a)") {
		t.Errorf("first notification %q", msg)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	n, err = l.Read(buf)
	if err != nil || string(buf[:n]) != "STOPPING=1" {
		t.Errorf("second notification %q, %v; want STOPPING=1", buf[:n], err)
	}
}

// --capture - streams pcapng on stdout, readable while the hub runs, and
// everything a person reads goes to stderr.
func TestCaptureToStdout(t *testing.T) {
	bin := l2hubBinary(t)
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	cmd := exec.Command(bin, "serve", "--capture", "-", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", ctl)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stderr)
	a, b := attachPair(t, br, ctl)
	go io.Copy(io.Discard, br)

	// The stream is readable as it grows: the first frame arrives before
	// the hub stops.
	r, err := capture.NewReader(stdout, capture.ReadOptions{})
	if err != nil {
		t.Fatalf("stdout does not start a pcapng stream: %v", err)
	}
	f := hubtest.Frame(hubtest.Broadcast, macA, "live")
	if err := a.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	readFrame(t, b)
	got := make(chan capture.Packet, 1)
	go func() {
		p, err := r.Next()
		if err == nil {
			got <- p
		}
		close(got)
	}()
	select {
	case p, ok := <-got:
		if !ok || !bytes.Equal(p.Data, f) {
			t.Fatalf("first packet on stdout: %+v, want the frame a sent", p)
		}
	case <-time.After(hangGuard):
		t.Fatal("the frame did not reach stdout while the hub ran")
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("l2hub: %v", err)
	}
	if len(rest) == 0 {
		t.Error("nothing after the first frame: the egress copy and the statistics blocks are missing")
	}
}

// tshark reads the live stream from a pipe, as wireshark -k -i - does.
func TestCaptureToStdoutReadByTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install the Debian package tshark to run this test")
	}
	bin := l2hubBinary(t)
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	hubCmd := exec.Command(bin, "serve", "--capture", "-", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", ctl)
	ts := exec.Command(tshark, "-l", "-i", "-", "-T", "fields", "-e", "frame.interface_name", "-e", "frame.p2p_dir", "-e", "eth.src")
	pipe, err := hubCmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ts.Stdin = pipe
	var tsOut, tsErr syncbuf.Buffer
	ts.Stdout, ts.Stderr = &tsOut, &tsErr
	stderr, err := hubCmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hubCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hubCmd.Process.Kill(); hubCmd.Wait() })
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Process.Kill(); ts.Wait() })
	br := bufio.NewReader(stderr)
	a, b := attachPair(t, br, ctl)
	go io.Copy(io.Discard, br)
	if err := a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "to tshark")); err != nil {
		t.Fatal(err)
	}
	readFrame(t, b)
	// tshark prints the frames as they come: wait for both copies, then
	// stop the hub; tshark ends at the end of the stream.
	deadline := time.Now().Add(hangGuard)
	for strings.Count(tsOut.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	hubCmd.Process.Signal(os.Interrupt)
	if err := hubCmd.Wait(); err != nil {
		t.Fatalf("l2hub: %v", err)
	}
	if err := ts.Wait(); err != nil {
		t.Fatalf("tshark: %v\n%s", err, tsErr.String())
	}
	mac := net.HardwareAddr(macA[:]).String()
	want := "a\t1\t" + mac + "\nb\t0\t" + mac + "\n"
	if tsOut.String() != want {
		t.Errorf("tshark read from the pipe:\n%s\nwant:\n%s\nstderr:\n%s", tsOut.String(), want, tsErr.String())
	}
}

func TestStdoutCaptureRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--capture", "-", "--json"}, "--capture - and --json both want standard output"},
		{[]string{"--capture", "-", "--capture-per-port"}, "standard output, one stream"},
		{[]string{"--capture", "-", "--rotate-count", "10"}, "standard output, one stream"},
		{[]string{"--log-format", "xml"}, `--log-format "xml": want text or json`},
	} {
		err := run(context.Background(), append([]string{"serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0"}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestStdoutCaptureKeepsOtherOutputsOff: with --capture -, an output that
// names standard output another way (/dev/stdout, /proc/self/fd/1, or
// the file the shell sent it to) would write into the pcapng stream: the
// start is refused, and the file standard output went to stays empty.
func TestStdoutCaptureKeepsOtherOutputsOff(t *testing.T) {
	bin := l2hubBinary(t)
	dir := t.TempDir()
	outPath := filepath.Join(dir, "stream.out")
	names := []string{"/dev/stdout", outPath}
	if _, err := os.Stat("/proc/self/fd/1"); err == nil {
		names = append(names, "/proc/self/fd/1")
	}
	for _, name := range names {
		for _, flag := range []string{"--summary", "--ready-file"} {
			out, err := os.Create(outPath)
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			// A hub that took the outputs runs until the guard kills it.
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			cmd := exec.CommandContext(ctx, bin, "serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0", "--capture", "-", flag, name)
			cmd.Stdout, cmd.Stderr = out, &stderr
			err = cmd.Run()
			cancel()
			out.Close()
			want := "l2hub: --capture - and " + flag + " " + name + " both want standard output"
			if err == nil || !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("serve --capture - %s %s: %v, stderr:\n%s\nwant %s...", flag, name, err, stderr.String(), want)
			}
			if b, _ := os.ReadFile(outPath); len(b) != 0 {
				t.Errorf("serve --capture - %s %s: standard output got %q, want nothing", flag, name, b)
			}
		}
	}
}

// TestOutputsShareACharacterDevice: /dev/null as both the capture and the
// summary is no clash: a write there destroys nothing.
func TestOutputsShareACharacterDevice(t *testing.T) {
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Skipf("%s is not a character device here (%v)", os.DevNull, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // started, it stops at once
	args := []string{"serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0", "--capture", os.DevNull, "--summary", os.DevNull}
	if err := run(ctx, args, io.Discard, io.Discard); err != nil && !errors.Is(err, hub.ErrStopped) {
		t.Errorf("l2hub %s: %v, want it to start", strings.Join(args, " "), err)
	}
}

// --log-format json makes every log line one JSON object.
func TestJSONLogs(t *testing.T) {
	_, stderr, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--log-format", "json", "--json")
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(stderr.String(), "Ctrl-C stops") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	logs := 0
	for line := range strings.Lines(stderr.String()) {
		var m map[string]any // the banner (on stderr with --json) too
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
			t.Errorf("log line %q is not a JSON record: %v", line, err)
		}
		logs++
	}
	if logs == 0 {
		t.Errorf("no JSON log line (shutting down is logged):\n%s", stderr.String())
	}
}

// The summary shows a partition as the run ends: one whose schedule ran
// out while no frame crossed is over, not as of the last frame.
func TestSummaryStateAsTheRunEnds(t *testing.T) {
	dir := t.TempDir()
	pol, readyPath := filepath.Join(dir, "p.yaml"), filepath.Join(dir, "hub.ready")
	if err := os.WriteFile(pol, []byte("partitions:\n  - {name: blip, groups: a|b, start: 0s, end: 50ms}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", "off",
		"--policy", pol, "--ready-file", readyPath, "--json")
	if err := run(context.Background(), []string{"wait", "--ready-file", readyPath, "--timeout", hangGuard.String()}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // at least: past the partition's end, however slow the machine
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	var sum serve.Summary
	if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(sum.Partitions) != 1 || sum.Partitions[0].Active {
		t.Errorf("summary partitions %+v, want blip over", sum.Partitions)
	}
}

// TestWaitForAHubThatFailed: with --pid, a hub that exits before it is
// ready (here a port spec it refuses) ends the wait at once, not after
// --timeout (an hour here), reaped or not yet (a zombie); reaped, it is
// no process, which the error says.
func TestWaitForAHubThatFailed(t *testing.T) {
	for _, reap := range []bool{true, false} {
		t.Run(fmt.Sprintf("reaped=%v", reap), func(t *testing.T) {
			if !reap && runtime.GOOS != "linux" {
				t.Skip("only Linux tells a zombie from a running process here")
			}
			hubCmd := exec.Command(l2hubBinary(t), "serve", "--port", "a=nonsense:1", "--control", "off")
			if err := hubCmd.Start(); err != nil {
				t.Fatal(err)
			}
			if reap {
				hubCmd.Wait()
			} else {
				t.Cleanup(func() { hubCmd.Wait() })
				deadline := time.Now().Add(hangGuard)
				for ready.Alive(hubCmd.Process.Pid, 0) { // until it has failed
					if time.Now().After(deadline) {
						t.Fatalf("l2hub serve with a bad port still runs after %v", hangGuard)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			done := make(chan error, 1)
			go func() {
				done <- run(context.Background(), []string{"wait", "--ready-file", filepath.Join(t.TempDir(), "hub.ready"),
					"--pid", strconv.Itoa(hubCmd.Process.Pid), "--timeout", "1h"}, io.Discard, io.Discard)
			}()
			select {
			case err := <-done:
				// Reaped, the pid names no process, which a wrong pid would
				// not either: the error says both.
				want := fmt.Sprintf("the hub (pid %d) exited before it was ready", hubCmd.Process.Pid)
				if reap {
					want = fmt.Sprintf("no process %d: the hub exited before it was ready (its own output says why), or that is not its pid", hubCmd.Process.Pid)
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("wait --pid: %v, want %q", err, want)
				}
			case <-time.After(hangGuard):
				t.Fatalf("wait --pid still waits %v after the hub failed", hangGuard)
			}
		})
	}
}

// TestSecondHubKeepsOffALiveHubsReadyFile: a second hub given the ready
// file of a hub that runs refuses to start, rather than take over the
// file (a script waiting on it would connect its VMs to the wrong hub)
// and delete it when it stops; the first hub's file stays as it wrote it.
func TestSecondHubKeepsOffALiveHubsReadyFile(t *testing.T) {
	rf := filepath.Join(t.TempDir(), "hub.ready")
	first := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--ready-file", rf)
	pid := strconv.Itoa(first.cmd.Process.Pid)
	if err := run(context.Background(), []string{"wait", "--ready-file", rf, "--pid", pid, "--timeout", hangGuard.String()}, io.Discard, io.Discard); err != nil {
		t.Fatalf("wait for the first hub: %v", err)
	}
	was, err := os.ReadFile(rf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a second hub that took the file stops at once, having written it
	err = run(ctx, []string{"serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--ready-file", rf}, io.Discard, io.Discard)
	want := "ready file " + rf + " names a hub that is still running (pid " + pid + "): give this hub a ready file of its own"
	if err == nil || err.Error() != want {
		t.Errorf("second hub: got %v, want %s", err, want)
	}
	if now, err := os.ReadFile(rf); err != nil || !bytes.Equal(now, was) {
		t.Errorf("the first hub's ready file holds %q (%v) after the second hub, want %q", now, err, was)
	}
}

// TestWaitPIDTakesOnlyThatHub: l2hub wait --pid P takes P's readiness,
// or a process's P started (a wrapper's $!; here go test, which started
// this process and so the hub run in it). A ready file, or a control API,
// of another process that still runs is waited past, and a wait that ends
// meanwhile names both pids.
func TestWaitPIDTakesOnlyThatHub(t *testing.T) {
	dir := t.TempDir()
	rf, sock := filepath.Join(dir, "hub.ready"), filepath.Join(dir, "ctl.sock")
	first := startBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--ready-file", rf)
	other := first.cmd.Process.Pid
	self, parent := strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid())
	wait := func(timeout string, args ...string) error {
		return run(context.Background(), append([]string{"wait", "--timeout", timeout}, args...), io.Discard, io.Discard)
	}
	if err := wait(hangGuard.String(), "--ready-file", rf, "--pid", strconv.Itoa(other)); err != nil {
		t.Errorf("wait --ready-file --pid %d (the hub the file names): %v", other, err)
	}
	// A hub in this process serves the control API.
	_, _, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--control", sock)
	defer stop()
	for _, p := range []string{self, parent} {
		if err := wait(hangGuard.String(), "--control", sock, "--pid", p); err != nil {
			t.Errorf("wait --control --pid %s (hub %s is it or its child): %v", p, self, err)
		}
	}
	if runtime.GOOS != "linux" {
		return // elsewhere, any process may be the wrapper's
	}
	// A process that runs and is neither hub's wrapper.
	sleep := exec.Command("sleep", "3600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	unrelated := strconv.Itoa(sleep.Process.Pid)
	err := wait("200ms", "--ready-file", rf, "--pid", unrelated) // what ends the wait; not a bound on the test
	if !errors.Is(err, ready.ErrOtherHub) || !strings.Contains(err.Error(), "not ready after 200ms") ||
		!strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", other)) || !strings.Contains(err.Error(), "(pid "+unrelated+")") {
		t.Errorf("wait --ready-file (hub %d's) --pid %s = %v, want it waited past until the timeout, then ErrOtherHub naming both pids", other, unrelated, err)
	}
	err = wait("200ms", "--control", sock, "--pid", strconv.Itoa(other))
	if !errors.Is(err, control.ErrOtherHub) || !strings.Contains(err.Error(), "not ready after 200ms") ||
		!strings.Contains(err.Error(), "served by pid "+self) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", other)) {
		t.Errorf("wait --control (pid %s's) --pid %d = %v, want it waited past until the timeout, then ErrOtherHub naming both pids", self, other, err)
	}
}

// TestControlAddressAsAnnounced: a control socket named relative to the
// working directory (unix:ctl, which reads as no path by itself) is
// announced by its absolute path, in the banner and the ready file, and
// that is an address ctl, wait and inject take; so is the bare name while
// the socket is there (dialing it makes nothing).
func TestControlAddressAsAnnounced(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	rf := filepath.Join(dir, "hub.ready")
	stdout, stderr, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--control", "unix:ctl", "--ready-file", rf)
	if err := run(context.Background(), []string{"wait", "--ready-file", rf, "--timeout", hangGuard.String()}, io.Discard, io.Discard); err != nil {
		t.Fatalf("wait: %v; serve's stderr:\n%s", err, stderr.String())
	}
	info, err := ready.Read(rf)
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "ctl")
	if info.Control != abs {
		t.Errorf("ready file: control %q, want %q", info.Control, abs)
	}
	if banner := stdout.String(); !strings.Contains(banner, "control API on "+abs+";") {
		t.Errorf("banner:\n%s\nwant it to name the control API %s", banner, abs)
	}
	for _, addr := range []string{info.Control, "ctl", "unix:ctl"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"ctl", "ports", "--control", addr}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "a ") {
			t.Errorf("ctl ports --control %s: %v\n%s", addr, err, out.String())
		}
		if err := run(context.Background(), []string{"wait", "--control", addr, "--timeout", hangGuard.String()}, io.Discard, io.Discard); err != nil {
			t.Errorf("wait --control %s: %v", addr, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	// The socket gone, the bare name is refused again with the hint.
	if err := run(context.Background(), []string{"ctl", "ports", "--control", "ctl"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "want a socket path with a '/'") {
		t.Errorf("ctl --control ctl after the hub stopped: %v, want the hint", err)
	}
}

// TestHubsStartedTogetherOnOneReadyFile: of hubs started at once on one
// ready file (parallel CI jobs given a fixed path), one runs and names
// itself there; each other one refuses to start rather than run on beside
// it, whatever the order in which they come to the file.
func TestHubsStartedTogetherOnOneReadyFile(t *testing.T) {
	for range 3 {
		rf := filepath.Join(t.TempDir(), "hub.ready")
		hubs := make([]*process, 3)
		for i := range hubs {
			hubs[i] = launchBinary(t, nil, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--ready-file", rf)
		}
		var waitOut bytes.Buffer
		if err := run(context.Background(), []string{"wait", "--ready-file", rf, "--timeout", hangGuard.String(), "--json"}, &waitOut, io.Discard); err != nil {
			t.Fatalf("wait: %v", err)
		}
		var info ready.Info
		if err := json.Unmarshal(waitOut.Bytes(), &info); err != nil {
			t.Fatal(err)
		}
		for _, h := range hubs {
			if h.cmd.Process.Pid == info.PID {
				continue
			}
			// A hub that took the file as well would run until the guard.
			var err error
			select {
			case err = <-h.done:
				h.done <- err
			case <-time.After(hangGuard):
				t.Fatalf("hub %d runs beside hub %d, which the ready file names", h.cmd.Process.Pid, info.PID)
			}
			if err == nil || !strings.Contains(h.stderr.String(), "ready file "+rf+" names a hub that is still running") &&
				!strings.Contains(h.stderr.String(), "another hub holds it") {
				t.Errorf("hub %d: exit %v, stderr:\n%s\nwant a refusal of the ready file", h.cmd.Process.Pid, err, h.stderr.String())
			}
		}
		if now, err := ready.Read(rf); err != nil || now.PID != info.PID {
			t.Errorf("after the refusals the ready file names %+v (%v), want pid %d", now, err, info.PID)
		}
	}
}
