//go:build unix

package main

import (
	"l2hub/control/controltest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInjectNoCaptureFromAFIFO: a named pipe is not read before the hub
// is asked (what that took would be missing), so what it carries is judged
// as it is injected; when that is no capture the error says so, with no
// report of nothing sent.
func TestInjectNoCaptureFromAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctl := controltest.ServeTarget(t, &dropHub{})
	wrote := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = w.Write([]byte("not a capture\n"))
			w.Close()
		}
		wrote <- err
	}()
	stdout, _, err := runCmd(t, "inject", fifo, "--into", "b", "--control", ctl)
	if err == nil || !strings.Contains(err.Error(), "not a pcap or pcapng file") {
		t.Errorf("inject from a FIFO carrying text: got %v, want not a capture", err)
	}
	if stdout != "" {
		t.Errorf("inject from a FIFO carrying text printed %q", stdout)
	}
	if err := <-wrote; err != nil {
		t.Errorf("the FIFO's writer: %v", err)
	}
}
