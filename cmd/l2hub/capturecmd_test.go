package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairSeveralFiles: capture repair says what it did to each file,
// named, and one it cannot read does not stop it repairing the others;
// the error names the file.
func TestRepairSeveralFiles(t *testing.T) {
	first := writeL2hubCapture(t, t.TempDir(), 10)
	missing := filepath.Join(t.TempDir(), "missing.pcapng")
	last := writeL2hubCapture(t, t.TempDir(), 10)
	stdout, _, err := runCmd(t, "capture", "repair", first, missing, last)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("got %v, want an error naming %s", err, missing)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], first+": nothing to repair") || !strings.HasPrefix(lines[1], last+": nothing to repair") {
		t.Errorf("got stdout %q, want a line for %s then one for %s, each saying nothing to repair", stdout, first, last)
	}
}
