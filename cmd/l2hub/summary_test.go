package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub/hubtest"
)

// summaryRule returns the shutdown summary's counters for rule, by column
// name.
func summaryRule(t *testing.T, out, rule string) map[string]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nRULE ")
	if !ok {
		t.Fatalf("no rule table in the summary:\n%s", out)
	}
	lines := strings.Split("RULE "+table, "\n")
	head := strings.Fields(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != rule {
			continue
		}
		if len(f) != len(head) {
			t.Fatalf("rule line %q has %d fields, the header %q has %d", l, len(f), lines[0], len(head))
		}
		m := map[string]string{}
		for i, h := range head {
			m[h] = f[i]
		}
		return m
	}
	t.Fatalf("no line for rule %s in the summary:\n%s", rule, out)
	return nil
}

// TestSummaryCountsQueuedFrames: a rate limit at 1kbit with a 64-byte
// bucket passes the first frame and queues the second (it waits about
// half a second for tokens); the summary shows every per-rule counter,
// QUEUED included.
func TestSummaryCountsQueuedFrames(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "ctl.sock")
	s := startServe(t, "serve", "--control", ctl, "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0",
		"--rate", "a->b=1kbit,burst=64B")
	addrs := tcpPorts(t, s.stdout.String())
	a, b := dialVM(t, addrs["a"]), dialVM(t, addrs["b"])
	waitAttached(t, ctl, 2)
	var sent [][]byte
	for i := range 2 {
		f := hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("frame %d", i))
		if err := a.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, f)
	}
	for _, f := range sent {
		if got := readFrame(t, b); !bytes.Equal(got, f) {
			t.Fatalf("b got %x, want %x", got, f)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	got := summaryRule(t, s.stdout.String(), "a->b")
	want := map[string]string{"MATCHED": "2", "DROPPED": "0", "DUPLICATED": "0", "CORRUPTED": "0", "QUEUED": "1", "OVERFLOWED": "0"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got summary %s = %q, want %q\n%s", k, got[k], v, s.stdout.String())
		}
	}
}

// TestSummaryToDevStdout: serve --summary /dev/stdout > log writes the
// summary through the hub's standard output as the shell opened it: after
// the banner, before the counters, with nothing written over.
func TestSummaryToDevStdout(t *testing.T) {
	if _, err := os.Stat("/dev/stdout"); err != nil {
		t.Skipf("no /dev/stdout: %v", err)
	}
	bin := l2hubBinary(t)
	log := filepath.Join(t.TempDir(), "serve.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "serve", "--control", "off", "--port", "a=tcp:127.0.0.1:0", "--summary", "/dev/stdout")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	read := func() string { b, _ := os.ReadFile(log); return string(b) }
	for deadline := time.Now().Add(hangGuard); !strings.Contains(read(), "Ctrl-C stops"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no banner within %v:\n%s", hangGuard, read())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("got %v after SIGTERM, want exit status 0:\n%s", err, read())
		}
	case <-time.After(hangGuard):
		t.Fatalf("l2hub did not exit within %v of SIGTERM", hangGuard)
	}
	out := read()
	banner, rest, ok := strings.Cut(out, "{\n  \"schema\": 1,\n  \"version\"")
	summary, counters, ok2 := strings.Cut(rest, "\n}\n")
	if !ok || !ok2 || !strings.Contains(banner, "Ctrl-C stops") || !strings.Contains(banner, "-netdev") ||
		!strings.Contains(summary, `"ports"`) || !strings.Contains(counters, "PORT") || strings.ContainsRune(out, 0) {
		t.Errorf("got the log %q, want the banner, then the summary's JSON, then the counters", out)
	}
}
