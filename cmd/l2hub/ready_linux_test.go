package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"l2hub/internal/ready"
)

// TestReadyFileOfAReusedPid: a ready file left by a hub whose pid another
// process has now (the start time it records is not that process's) is
// a file left behind: a new hub replaces it and names itself there.
func TestReadyFileOfAReusedPid(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	rf := filepath.Join(t.TempDir(), "hub.ready")
	left, err := json.Marshal(ready.Info{Schema: ready.Schema, PID: other.Process.Pid, Start: 1, Ports: []ready.Port{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rf, left, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, stop := runServe(t, "--port", "a=tcp:127.0.0.1:0", "--control", "off", "--ready-file", rf)
	// wait passes over the file left behind: its pid is not that hub.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"wait", "--ready-file", rf, "--timeout", hangGuard.String(), "--json"}, &out, io.Discard); err != nil {
		t.Fatalf("wait: %v; serve's stderr:\n%s", err, stderr.String())
	}
	var info ready.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.PID != os.Getpid() {
		t.Errorf("the ready file names %+v (%v), want this hub, pid %d", info, err, os.Getpid())
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v; stderr:\n%s", err, stderr.String())
	}
}

// TestWaitPIDOfAWrapper: wait --pid $! where $! is a wrapper that started
// the hub as its child (timeout, sudo, runuser, go run do; here sh, which
// does not exec the last command when another follows) takes that hub's
// ready file and control API.
func TestWaitPIDOfAWrapper(t *testing.T) {
	dir := t.TempDir()
	rf, sock := filepath.Join(dir, "hub.ready"), filepath.Join(dir, "ctl.sock")
	cmd := exec.Command("sh", "-c", `"$0" "$@"; :`, l2hubBinary(t), "serve", "--port", "a=tcp:127.0.0.1:0", "--control", sock, "--ready-file", rf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := launchCmd(t, nil, cmd)
	t.Cleanup(func() { syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }) // the hub too, before launchCmd's cleanup waits
	wrapper := strconv.Itoa(p.cmd.Process.Pid)
	for _, args := range [][]string{{"--ready-file", rf}, {"--control", sock}} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"wait", "--timeout", hangGuard.String(), "--pid", wrapper}, args...), &out, io.Discard)
		if err != nil || !strings.Contains(out.String(), "l2hub ready") {
			t.Errorf("wait %s --pid %s (the wrapper of the hub) = %q, %v; want ready", strings.Join(args, " "), wrapper, out.String(), err)
		}
	}
	info, err := ready.Read(rf)
	if err != nil || strconv.Itoa(info.PID) == wrapper {
		t.Errorf("ready file = %+v, %v; want the hub's pid, not the wrapper's %s", info, err, wrapper)
	}
}
