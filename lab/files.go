package lab

// This file holds how a run writes the files of its directory: the logs
// it writes as it goes (logFile, which stops at a full disk's first failed
// write), the files written whole or not at all (writeFile: check.txt,
// check.json, report.html; summary.go writes the summaries), and what
// could not be written (FileError), for the run's output and summary.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"l2hub/conformance/checker"
	"l2hub/internal/atomicfile"
	"l2hub/report"
)

// runFS is how a run writes the files of its directory: the disk's
// (osFS), or in a test one that fails as a full disk does.
type runFS interface {
	// Create creates a log the run writes as it goes.
	Create(path string) (io.WriteCloser, error)
	// WriteFile writes a file whole or not at all: a reader sees no file
	// or all of it, never a truncated one.
	WriteFile(path string, data []byte) error
}

type osFS struct{}

func (osFS) Create(path string) (io.WriteCloser, error) { return os.Create(path) }

// WriteFile writes a new file beside path and renames it over path; the
// new file is removed if it cannot be written (atomicfile).
func (osFS) WriteFile(path string, data []byte) error {
	return atomicfile.WriteFile(path, data, 0o644)
}

// FileError is a file of the run directory that could not be written, or
// not whole: a full disk. A log the run writes as it goes stops at its
// first failed write (what comes after is dropped, not written after a
// gap), so it holds Bytes bytes, Lines of them whole lines.
type FileError struct {
	File  string `json:"file"` // its name in the run directory
	Error string `json:"error"`
	Log   bool   `json:"log"` // written as the run went: it stops where Bytes and Lines say
	Bytes int64  `json:"bytes,omitempty"`
	Lines int    `json:"whole_lines,omitempty"`
}

// String says what became of the file, for the run's output and
// summary.txt.
func (e FileError) String() string {
	if !e.Log {
		return fmt.Sprintf("%s not written: %s", e.File, e.Error)
	}
	return fmt.Sprintf("%s stops after %d bytes (%d whole lines); what came after is not in it: %s", e.File, e.Bytes, e.Lines, e.Error)
}

// logFile is a log of the run directory written as the run goes. Its
// first failed write stops it, and calls stopped once (not under its
// lock); Write never fails, so that a log on a full disk does not stop
// what else its writer feeds (the run's output, beside lab.log). Safe for
// concurrent use.
type logFile struct {
	name    string
	stopped func(FileError)

	mu    sync.Mutex
	w     io.WriteCloser // nil once closed
	bytes int64
	lines int
	err   error
}

// createLog creates the log name at path through fs.
func createLog(fs runFS, path, name string, stopped func(FileError)) (*logFile, error) {
	w, err := fs.Create(path)
	if err != nil {
		return nil, err
	}
	return &logFile{name: name, w: w, stopped: stopped}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	if l.err != nil || l.w == nil {
		l.mu.Unlock()
		return len(p), nil
	}
	n, err := l.w.Write(p)
	l.bytes += int64(n)
	l.lines += bytes.Count(p[:n], []byte{'\n'})
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	l.err = err
	l.mu.Unlock()
	if err != nil && l.stopped != nil {
		l.stopped(*l.failure())
	}
	return len(p), nil
}

// Close closes the log; a failed close (a write-back that failed) stops
// it there too, unless it has stopped before.
func (l *logFile) Close() error {
	l.mu.Lock()
	if l.w == nil {
		l.mu.Unlock()
		return nil
	}
	err := l.w.Close()
	l.w = nil
	first := err != nil && l.err == nil
	if first {
		l.err = err
	}
	l.mu.Unlock()
	if first && l.stopped != nil {
		l.stopped(*l.failure())
	}
	return err
}

// failure is where the log stopped and why, or nil if it did not.
func (l *logFile) failure() *FileError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return nil
	}
	return &FileError{File: l.name, Error: l.err.Error(), Log: true, Bytes: l.bytes, Lines: l.lines}
}

// fs is how the run writes its directory's files.
func (r *runner) fs() runFS {
	if r.opts.fs == nil {
		return osFS{}
	}
	return r.opts.fs
}

// logStopped says once, on the run's output, that a log of the run
// directory stopped (a full disk); the summary says it too.
func (r *runner) logStopped(e FileError) {
	r.printf("%8.3f note: %s\n", r.now().Seconds(), e)
}

// writeFile writes the file name of the run directory whole (data, or
// err that made it); one it could not write is said on the run's output
// and kept for the summary. It reports whether it wrote it.
func (r *runner) writeFile(name string, data []byte, err error) bool {
	if err == nil {
		err = r.fs().WriteFile(filepath.Join(r.dir, name), data)
	}
	if err != nil {
		e := FileError{File: name, Error: err.Error()}
		r.fileErrs = append(r.fileErrs, e)
		r.printf("%8.3f note: %s\n", r.now().Seconds(), e)
		return false
	}
	return true
}

// check runs the conformance checker over the capture, when the hub has
// a profile, and writes its report: offline, so that its frame numbers are
// the capture's.
func (r *runner) check() *checker.Report {
	if r.lab.Hub.Check == "" {
		return nil
	}
	profile, err := checker.ParseProfile(r.lab.Hub.Check)
	if err != nil {
		return nil
	}
	rep, err := checker.CheckFiles(checker.Options{Profile: profile}, filepath.Join(r.dir, "capture.pcapng"))
	var b strings.Builder
	rep.WriteText(&b)
	if err != nil {
		fmt.Fprintf(&b, "check stopped: %v\n", err)
	}
	r.writeFile("check.txt", []byte(b.String()), nil)
	data, jerr := jsonIndent(rep)
	r.writeFile("check.json", data, jerr)
	var se *checker.StopError
	if err != nil && !errors.As(err, &se) {
		return nil
	}
	return &rep
}

// writeReport draws the run (package report): the capture as a ladder of
// frames between the VMs' ports, each VM's console markers on its port's
// lifeline, the checker's findings pinned to their frames, and the
// partitions the triggers started as bands across the lifelines they cut.
// The page is written whole or not at all; why not is printed, and kept
// for summary.json. What the page leaves out (its warnings) is printed too.
func (r *runner) writeReport() {
	capturePath := filepath.Join(r.dir, "capture.pcapng")
	if _, err := os.Stat(capturePath); err != nil {
		return
	}
	opts := report.Options{Capture: capturePath, Check: r.lab.Hub.Check, Title: "l2hub lab " + r.lab.Name}
	for _, info := range r.vmInfo {
		if info.PID != 0 {
			opts.Consoles = append(opts.Consoles, report.Console{Port: info.Port, Path: filepath.Join(r.dir, info.Log)})
		}
	}
	m, err := report.Build(opts)
	if err == nil {
		// The page was built; a disk that does not take it makes it a
		// file not written, as the others are.
		var page bytes.Buffer
		if err := m.WriteHTML(&page); err != nil {
			r.reportErr = err.Error()
			r.printf("%8.3f report.html not written: %v\n", r.now().Seconds(), err)
			return
		}
		if !r.writeFile("report.html", page.Bytes(), nil) {
			r.reportErr = r.fileErrs[len(r.fileErrs)-1].Error
			return
		}
	}
	if err != nil {
		r.reportErr = err.Error()
		r.printf("%8.3f report.html not written: %v\n", r.now().Seconds(), err)
		return
	}
	for _, w := range m.Warnings {
		r.printf("%8.3f report.html: warning: %s\n", r.now().Seconds(), w)
	}
}
