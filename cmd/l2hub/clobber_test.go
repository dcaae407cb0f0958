package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/capture"
)

// TestReplayRefusesToWriteItsInput: replay's -o naming a file it reads (a
// capture, given as an argument or with --port, or the policy; by the same
// path, another path, a link, or the file a failed write would go on in) is
// refused before anything is written, and the file is left as it was.
func TestReplayRefusesToWriteItsInput(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 20)
	policy := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(policy, []byte(replayWhatIf), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pcapng")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	next := capture.RotatedPath(filepath.Join(dir, "out.pcapng"), 1)
	copyFile(t, in, next)
	t.Chdir(dir)
	for _, args := range [][]string{
		{in, "--policy", policy, "-o", in},
		{"live.pcapng", "-o", "./sub/../live.pcapng"},
		{in, "-o", link},
		{"--port", "a=" + in, "-o", in},
		{in, "--policy", policy, "-o", policy},
		{next, "-o", "out.pcapng"},
	} {
		before := snapshot(t, in, policy, next)
		_, _, err := runCmd(t, append([]string{"replay"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "write somewhere else") {
			t.Errorf("replay %q: %v, want a refusal", args, err)
		}
		if after := snapshot(t, in, policy, next); after != before {
			t.Errorf("replay %q changed its input", args)
		}
	}
	if _, _, err := runCmd(t, "replay", in, "-o", "out.pcapng"); err != nil {
		t.Errorf("replay to another file: %v", err)
	}
}

// TestReportRefusesToWriteItsInput: report's -o naming the capture or a
// console log is refused, and the file is left as it was.
func TestReportRefusesToWriteItsInput(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 20)
	log := filepath.Join(dir, "a.log")
	if err := os.WriteFile(log, []byte("  0.100 hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.pcapng")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{in, "-o", in},
		{in, "-o", hard},
		{in, "--console", "a=" + log, "-o", log},
	} {
		before := snapshot(t, in, log)
		stdout, _, err := runCmd(t, append([]string{"report"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "write somewhere else") {
			t.Errorf("report %q: %v (stdout %q), want a refusal", args, err, stdout)
		}
		if after := snapshot(t, in, log); after != before {
			t.Errorf("report %q changed its input", args)
		}
	}
	if _, _, err := runCmd(t, "report", in, "-o", filepath.Join(dir, "run.html")); err != nil {
		t.Errorf("report to another file: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot is the content of files, to tell whether a command changed them.
func snapshot(t *testing.T, paths ...string) string {
	t.Helper()
	var all bytes.Buffer
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteByte(0)
	}
	return all.String()
}
