package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

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
