package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/ready"
)

// TestClosedOutputDoesNotKillTheHub: `l2hub serve ... | head -1` closes the
// hub's standard output and error after a line; the hub must go on (its
// ports, its capture) and, told to stop, exit 0 with its summary written,
// instead of dying of SIGPIPE at its next line.
func TestClosedOutputDoesNotKillTheHub(t *testing.T) {
	bin := l2hubBinary(t)
	dir := t.TempDir()
	readyPath, sumPath := filepath.Join(dir, "hub.ready"), filepath.Join(dir, "summary.json")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before the hub writes a thing
	cmd := exec.Command(bin, "serve", "--port", "a=tcp:127.0.0.1:0", "--control", "off",
		"--ready-file", readyPath, "--summary", sumPath, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(hangGuard)
	for {
		if info, err := ready.Read(readyPath); err == nil && info.PID == cmd.Process.Pid {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("l2hub exited (%v) before it was ready: SIGPIPE on its banner?", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("l2hub not ready within %v", hangGuard)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("l2hub with its output closed, after SIGTERM: %v, want exit status 0", err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("l2hub did not exit within %v of SIGTERM", hangGuard)
	}
	raw, err := os.ReadFile(sumPath)
	if err != nil {
		t.Fatalf("no summary: %v", err)
	}
	var sum map[string]any
	if err := json.Unmarshal(raw, &sum); err != nil || sum["ports"] == nil {
		t.Errorf("summary %s: %v, want the ports' counters", raw, err)
	}
}
