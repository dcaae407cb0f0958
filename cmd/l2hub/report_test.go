package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join("..", "..", "report", "testdata", "failing-run.pcapng")
	logA := filepath.Join("..", "..", "report", "testdata", "failing-run-node-a.log")
	out := filepath.Join(dir, "run.html")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"report", capture, "--check", "nexus-v1",
		"--console", "a=" + logA + ",match=GUEST:", "--title", "failing run", "-o", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("got %v, want the page written:\n%s", err, stderr.String())
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>failing run · l2hub report</title>", `id="l2hub-data"`, `"SESS-002"`, "GUEST: nexus FAIL"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("got a page without %q", want)
		}
	}
	if bytes.Contains(page, []byte("reboot: Power down")) {
		t.Error("got a console line that match= should have left out")
	}
	if got := stdout.String(); !strings.Contains(got, "wrote "+out) || !strings.Contains(got, "nexus-v1 check FAIL") || !strings.Contains(got, "1 bands") {
		t.Errorf("got %q, want what was written, with the check's verdict", got)
	}
}

func TestReportCommandErrors(t *testing.T) {
	capture := filepath.Join("..", "..", "report", "testdata", "failing-run.pcapng")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no-output", []string{"report", capture}, "-o"},
		{"no-capture", []string{"report", "-o", "x.html"}, "report takes one CAPTURE, got none: e.g. l2hub report run.pcapng -o run.html"},
		{"two-files", []string{"report", capture, "node-a.log", "-o", "-"}, "report takes one CAPTURE, got 2 arguments (" + capture + " node-a.log): e.g. l2hub report run.pcapng -o run.html (a VM's console log goes with --console NAME=LOG)"},
		{"console-without-log", []string{"report", capture, "--console", "a=", "-o", "-"}, "no log file"},
		{"console-bad-option", []string{"report", capture, "--console", "a=x.log,color=red", "-o", "-"}, `unknown option "color"`},
		{"console-bad-offset", []string{"report", capture, "--console", "a=x.log,offset=soon", "-o", "-"}, "offset"},
		{"console-bad-match", []string{"report", capture, "--console", "a=x.log,match=(", "-o", "-"}, "match"},
		{"console-unknown-port", []string{"report", capture, "--console", "z=" + capture, "-o", "-"}, `port "z"`},
		{"unknown-profile", []string{"report", capture, "--check", "nexus-v9", "-o", "-"}, "nexus-v9"},
		{"missing-capture", []string{"report", "no-such.pcapng", "-o", "-"}, "no-such.pcapng"},
		{"negative-max-frames", []string{"report", capture, "--max-frames", "-1", "-o", "-"}, "--max-frames -1: must not be negative (0 means the default 500000)"},
		{"negative-hex-bytes", []string{"report", capture, "--hex-bytes", "-1", "-o", "-"}, "--hex-bytes -1: must not be negative (0 means the default 256)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestReportToStdout(t *testing.T) {
	capture := filepath.Join("..", "..", "capture", "testdata", "scenario.pcapng")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"report", capture, "-o", "-"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("<!DOCTYPE html>")) {
		t.Errorf("got %q..., want the page on standard output", stdout.Bytes()[:min(40, stdout.Len())])
	}
}

func TestReportMaxFrames(t *testing.T) {
	capture := filepath.Join("..", "..", "report", "testdata", "failing-run.pcapng")
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "run.html")
	if err := run(context.Background(), []string{"report", capture, "--max-frames", "100", "-o", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "l2hub report: warning: " + capture + ": only the first 100 frames are drawn"; !strings.Contains(stderr.String(), want) {
		t.Errorf("got stderr %q, want %q", stderr.String(), want)
	}
	if strings.Contains(stdout.String(), "warning") {
		t.Errorf("stdout carries a warning; it belongs on stderr:\n%s", stdout.String())
	}
}

// TestReportBadInput: as replay, report draws a broken capture up to where
// it breaks and then fails (status 1), naming the file and where; a capture
// merely cut short passes with --allow-truncated.
func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 100)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, errText string
		data          []byte
		args          []string
	}{
		{"truncated", "--allow-truncated accepts a capture cut short", cutInLastPacket(t, data), nil},
		{"truncated-allowed", "", cutInLastPacket(t, data), []string{"--allow-truncated"}},
		{"corrupt", "report stopped early on bad input", corruptAt(data, len(data)*2/3), []string{"--allow-truncated"}},
		// A writer killed before its first flush: an empty page that says so.
		{"empty-file-allowed", "", []byte{}, []string{"--allow-truncated"}},
		{"header-cut", "--allow-truncated accepts a capture cut short", data[:20], nil},
		{"header-cut-allowed", "", data[:20], []string{"--allow-truncated"}},
		{"whole", "", data, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pcapng")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(dir, tc.name+".html")
			stdout, stderr, err := runCmd(t, append([]string{"report", path, "-o", page}, tc.args...)...)
			if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), path)) {
				t.Fatalf("got error %v, want %q naming %s", err, tc.errText, path)
			}
			if _, serr := os.Stat(page); serr != nil {
				t.Errorf("no page of the frames before the break: %v", serr)
			}
			if tc.name != "whole" && !strings.Contains(stderr, "l2hub report: warning: "+path+": the capture ") {
				t.Errorf("stderr does not warn naming the file:\n%s", stderr)
			}
			if strings.Contains(stderr, " frames before") {
				t.Errorf("stderr counts records as frames:\n%s", stderr)
			}
			if strings.Contains(stdout, "warning") {
				t.Errorf("stdout carries a warning:\n%s", stdout)
			}
		})
	}
}

// TestReportOutputChecked: a page that cannot be written is refused
// before the capture is read: here the capture does not even exist.
func TestReportOutputChecked(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "page.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct{ out, want string }{
		{dir, "-o " + dir + ": is a directory"},
		{filepath.Join(dir, "no-such-dir", "run.html"), "no such file or directory"},
		{sock, "-o: write " + sock + ": is a socket"},
	} {
		_, _, err := runCmd(t, "report", filepath.Join(dir, "no-such.pcapng"), "-o", tc.out)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "no-such.pcapng") {
			t.Errorf("-o %s: got %v, want %q before the capture is read", tc.out, err, tc.want)
		}
	}
}

// TestReportToDevStdout: -o /dev/stdout writes the page through the
// command's standard output as the shell opened it, here a log opened to
// append (>>) that standard error shares (2>&1): the page comes after the
// log's line, and what was written (said on standard error, not after the
// page on standard output) after the page rather than over its start.
func TestReportToDevStdout(t *testing.T) {
	if _, err := os.Stat("/dev/stdout"); err != nil {
		t.Skipf("no /dev/stdout: %v", err)
	}
	bin := l2hubBinary(t)
	log := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(log, []byte("previous line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "report", filepath.Join("..", "..", "report", "testdata", "failing-run.pcapng"), "-o", "/dev/stdout")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(log)
		t.Fatalf("got %v, want the page written:\n%.2000s", err, b)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := bytes.Cut(got, []byte("<!DOCTYPE html>"))
	page, after, ok2 := bytes.Cut(rest, []byte("</html>\n"))
	if !ok || !ok2 || string(before) != "previous line\n" || !bytes.Contains(page, []byte(`id="l2hub-data"`)) ||
		!bytes.HasPrefix(after, []byte("wrote /dev/stdout (")) {
		t.Errorf("got the log %.200q ... %.200q, want the previous line, the whole page, then what was written", got, got[max(0, len(got)-200):])
	}
}

// TestReportHelp: --help says what --group's small values and
// --max-frames count, and how to draw a pair of per-VM files.
func TestReportHelp(t *testing.T) {
	stdout, _, err := runCmd(t, "report", "--help")
	if err != nil {
		t.Fatal(err)
	}
	help := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{
		"a group has 2 or more: 1 means 2; 0 means the default; -1: never",
		"capture records read (ingress, egress and non-Ethernet ones alike)",
		"l2hub replay a.pcap b.pcap --port a=a.pcap --port b=b.pcap -o run.pcapng",
		`without brackets, with a fraction: "64 bytes from" and "200 OK" are no stamps`,
	} {
		if !strings.Contains(help, want) {
			t.Errorf("got report --help without %q:\n%s", want, stdout)
		}
	}
}
