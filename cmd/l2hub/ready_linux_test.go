package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
