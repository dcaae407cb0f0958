package lab

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fullFS is the disk's file system, full for the files it names: a log in
// logs takes that many bytes, then fails as a full disk does; a whole
// file in files (by its name, or its whole path) is not written.
type fullFS struct {
	logs  map[string]int
	files map[string]bool
}

func (f fullFS) Create(path string) (io.WriteCloser, error) {
	w, err := os.Create(path)
	if room, ok := f.logs[filepath.Base(path)]; ok && err == nil {
		return &fullWriter{f: w, room: room}, nil
	}
	return w, err
}

func (f fullFS) WriteFile(path string, data []byte) error {
	if f.files[filepath.Base(path)] || f.files[path] {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	return osFS{}.WriteFile(path, data)
}

// fullWriter writes room bytes to f, then fails (ENOSPC) for ever.
type fullWriter struct {
	f    *os.File
	room int
}

func (w *fullWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p[:min(len(p), w.room)])
	w.room -= n
	if err == nil && n < len(p) {
		err = &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (w *fullWriter) Close() error { return w.f.Close() }

// fullLab passes: a's marker comes after 200 console lines, each stamped
// into a.log, and the hub checks the capture (check.txt, check.json).
const fullLab = `
name: full
timeout: 60s
hub:
  check: nexus-v1
vms:
  - name: a
    mac: 52:54:00:12:34:0a
    qemu: ${Q}
    args: [-say, "GUEST: up", -spam, "200", -say, "GUEST: done ok"]
    expect: [{marker: "GUEST: done ok", within: 60s}]
`

// A run directory on a full disk: a log (a.log, hub.log, lab.log) stops
// at its first failed write, and the run says so once, on its output and
// in summary.json, with where the log stops; a whole file not written
// (check.txt, summary.json, junit.xml) is said the same way. The markers
// are judged as before (the run reads the console, not its log), but a
// run that passed without writing summary.json or junit.xml gets no pass
// from Verdict: a CI system reads its verdict from them.
func TestRunOnAFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fs        fullFS
		file      string // the file the summary says is not whole
		note      string // the run's output says so, once, and the summary table again
		noVerdict bool   // Verdict fails the pass
	}{
		{name: "console-log", fs: fullFS{logs: map[string]int{"a.log": 1000}}, file: "a.log", note: "note: a.log stops after 1000 bytes ("},
		{name: "hub-log", fs: fullFS{logs: map[string]int{"hub.log": 100}}, file: "hub.log", note: "note: hub.log stops after 100 bytes ("},
		{name: "lab-log", fs: fullFS{logs: map[string]int{"lab.log": 100}}, file: "lab.log", note: "note: lab.log stops after 100 bytes ("},
		{name: "check-txt", fs: fullFS{files: map[string]bool{"check.txt": true}}, file: "check.txt", note: "note: check.txt not written: write "},
		{name: "report-html", fs: fullFS{files: map[string]bool{"report.html": true}}, file: "report.html", note: "note: report.html not written: write "},
		{name: "check-json", fs: fullFS{files: map[string]bool{"check.json": true}}, file: "check.json", note: "note: check.json not written: write "},
		{name: "junit", fs: fullFS{files: map[string]bool{"junit.xml": true}}, file: "junit.xml", note: "note: junit.xml not written: write ", noVerdict: true},
		{name: "summary-json", fs: fullFS{files: map[string]bool{"summary.json": true}}, note: "summary.json not written: write ", noVerdict: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, out := runLab(t, fullLab, Options{fs: tc.fs})
			if sum.Result != ResultPass {
				t.Fatalf("got result %s, want pass: the run judges the console, not its files", sum.Result)
			}
			// Once as it happens, once in the summary table; summary.json's
			// and junit.xml's come with the table.
			want := 2
			if tc.noVerdict {
				want = 1
			}
			if n := strings.Count(out, tc.note); n != want {
				t.Errorf("got %d lines %q in the output, want %d", n, tc.note, want)
			}
			err := Verdict([]*Summary{sum}, 1)
			if got := err != nil; got != tc.noVerdict {
				t.Errorf("got Verdict = %v, want an error: %v", err, tc.noVerdict)
			} else if tc.noVerdict && !strings.Contains(err.Error(), "does not count as a pass") {
				t.Errorf("got Verdict = %v, want it to say why the pass does not count", err)
			}
			// summary.json, read back, says which file is not whole, and
			// for a log where it stops: where the file ends.
			data, err := os.ReadFile(filepath.Join(sum.Dir, "summary.json"))
			if tc.file == "" {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("got summary.json read error %v, want none written", err)
				}
				return
			}
			var read Summary
			if err := json.Unmarshal(data, &read); err != nil {
				t.Fatalf("summary.json: %v", err)
			}
			if len(read.FileErrors) != 1 || read.FileErrors[0].File != tc.file || !strings.Contains(read.FileErrors[0].Error, "no space left on device") {
				t.Fatalf("got file_errors %+v, want one for %s", read.FileErrors, tc.file)
			}
			if e := read.FileErrors[0]; e.Log {
				log, err := os.ReadFile(filepath.Join(sum.Dir, tc.file))
				if err != nil {
					t.Fatal(err)
				}
				if e.Bytes != int64(len(log)) || e.Lines != strings.Count(string(log), "\n") {
					t.Errorf("got %s stopping after %d bytes, %d lines; the file has %d bytes, %d lines", tc.file, e.Bytes, e.Lines, len(log), strings.Count(string(log), "\n"))
				}
			}
			if txt, _ := os.ReadFile(filepath.Join(sum.Dir, "summary.txt")); !strings.Contains(string(txt), tc.note) {
				t.Errorf("got summary.txt\n%s\nwant %q", txt, tc.note)
			}
			if tc.file == "junit.xml" && read.Files["junit"] != "" {
				t.Errorf("got files %v, want no junit: it was not written", read.Files)
			}
		})
	}
}

// --repeat whose junit.xml of all the runs cannot be written says so, and
// returns the error (l2hub lab exits 1): the runs passed, but the file a
// CI system reads their verdict from is missing.
func TestRepeatJUnitNotWritten(t *testing.T) {
	dir := t.TempDir()
	l, err := Parse("lab.yaml", dir, []byte(`
name: twice
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up], expect: [{marker: up}]}
`), LoadOptions{Vars: map[string]string{"Q": fakeQEMU}})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "runs")
	var out strings.Builder
	runs, err := Repeat(context.Background(), l, Options{Out: &out, Dir: root, fs: fullFS{files: map[string]bool{filepath.Join(root, "junit.xml"): true}}}, 2, false)
	if len(runs) != 2 || Verdict(runs, 2) != nil {
		t.Fatalf("got %d runs, Verdict %v, want 2 passing runs\n%s", len(runs), Verdict(runs, 2), out.String())
	}
	if err == nil || !strings.Contains(err.Error(), "junit.xml not written: write "+root) || !strings.Contains(out.String(), "junit.xml not written: ") {
		t.Errorf("got Repeat error %v, output\n%s\nwant both to say junit.xml of the runs was not written", err, out.String())
	}
}

// flakyWriter fails its write number fail (from 1), as a full disk does,
// and takes every other: room freed in between.
type flakyWriter struct {
	strings.Builder
	n, fail int
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	w.n++
	if w.n == w.fail {
		return 0, syscall.ENOSPC
	}
	return w.Builder.Write(p)
}

func (w *flakyWriter) Close() error { return nil }

// A log stops at its first failed write: what comes after is dropped even
// once the disk takes it again, so that the log ends where it says, with
// no gap in it; it says so once; its writer never sees an error.
func TestLogFileStopsAtItsFirstFailure(t *testing.T) {
	w := &flakyWriter{fail: 3}
	var stops []FileError
	l := &logFile{name: "a.log", w: w, stopped: func(e FileError) { stops = append(stops, e) }}
	for _, s := range []string{"one\n", "two\n", "three\n", "four\n", "five\n"} {
		if n, err := l.Write([]byte(s)); n != len(s) || err != nil {
			t.Errorf("got Write(%q) = %d, %v, want %d, nil", s, n, err, len(s))
		}
	}
	want := FileError{File: "a.log", Error: syscall.ENOSPC.Error(), Log: true, Bytes: 8, Lines: 2}
	if len(stops) != 1 || stops[0] != want {
		t.Errorf("got stops %+v, want one: %+v", stops, want)
	}
	if got := l.failure(); got == nil || *got != want {
		t.Errorf("got failure() = %+v, want %+v", got, want)
	}
	if w.String() != "one\ntwo\n" {
		t.Errorf("got the log %q, want %q", w.String(), "one\ntwo\n")
	}
}
