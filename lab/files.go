package lab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"

	"l2hub/internal/atomicfile"
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
