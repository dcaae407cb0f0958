package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestFailedCheckExitsTwoQuietly: a check that fails exits 2 with its
// report on stdout and nothing on stderr. Its exitError carries no
// message: the process must not add an empty "l2hub:" line for it.
func TestFailedCheckExitsTwoQuietly(t *testing.T) {
	var stdout, stderr bytes.Buffer
	sigs := make(chan os.Signal, 1)
	code := runProcess(context.Background(), []string{"check", goldenCapture("data-before-handshake")}, &stdout, &stderr, sigs,
		func(sig os.Signal) { t.Errorf("forced exit by %v", sig) })
	if code != 2 {
		t.Errorf("got exit status %d, want 2", code)
	}
	if !strings.Contains(stdout.String(), "FAIL SESS-003") {
		t.Errorf("got stdout %q, want the report with FAIL SESS-003", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("got stderr %q, want nothing: the report says why it failed", stderr.String())
	}
}
