package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReplayAndInjectSayInputErrorsAlike: a missing input and a
// directory are said the same way by replay and inject, the path once.
func TestReplayAndInjectSayInputErrorsAlike(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "dir.pcap")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nonexist.pcap")
	for _, tc := range []struct {
		path, want string
	}{
		{sub, sub + ": is a directory, not a capture file"},
		{missing, missing + ": no such file or directory"},
	} {
		for _, args := range [][]string{
			{"replay", tc.path},
			{"inject", tc.path, "--into", "b", "--control", filepath.Join(dir, "ctl.sock")},
		} {
			_, _, err := runCmd(t, args...)
			if err == nil || err.Error() != tc.want {
				t.Errorf("l2hub %s %s: got %v, want %q", args[0], filepath.Base(tc.path), err, tc.want)
			}
		}
	}
}
