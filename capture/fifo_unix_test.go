//go:build unix

package capture

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/internal/syncbuf"
)

// A named pipe is a stream too: the capture waits for its reader, a
// SetMeta starts a new section in it, and a reader that goes away ends the
// capture without holding the hub up.
func TestNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := Open(Config{Path: fifo, RotatePackets: 5}); err == nil || !strings.Contains(err.Error(), "the named pipe") {
		t.Errorf("a rotated named pipe: %v", err)
	}
	type result struct {
		packets  int
		sections []uint64
		err      error
	}
	done := make(chan result, 1)
	go func() { // the reader, as wireshark -k -i FIFO
		var res result
		f, err := os.Open(fifo)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		r, err := NewReader(f, ReadOptions{})
		for err == nil {
			if _, err = r.Next(); err == nil {
				res.packets++
				fm, _ := ParseMeta(r.Section().Comment)
				if len(res.sections) == 0 || res.sections[len(res.sections)-1] != fm.Seed {
					res.sections = append(res.sections, fm.Seed)
				}
			}
		}
		if err != io.EOF {
			res.err = err
		}
		done <- res
	}()
	s := mustOpen(t, Config{Path: fifo, Meta: testMeta, Overflow: OverflowBlock})
	steps := statsSteps()
	run(s, steps[:6])
	m := testMeta
	m.Seed = 43
	if _, err := s.SetMeta(m); err != nil {
		t.Fatal(err)
	}
	run(s, steps[6:])
	mustClose(t, s)
	res := <-done
	if res.err != nil || res.packets != countEvents(steps) || len(res.sections) != 2 {
		t.Errorf("the reader got %d packets in sections %v (%v); want %d in two", res.packets, res.sections, res.err, countEvents(steps))
	}
	if files := s.Files(); len(files) != 1 || files[0] != fifo {
		t.Errorf("files %q, want the pipe alone", files)
	}
}

func TestNamedPipeReaderGoesAway(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	opened := make(chan struct{})
	go func() {
		f, err := os.Open(fifo)
		if err == nil {
			f.Close() // Wireshark closed at once
		}
		close(opened)
	}()
	var log bytes.Buffer
	s := mustOpen(t, Config{Path: fifo, Meta: testMeta, FlushInterval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	<-opened
	for range 1000 {
		run(s, statsSteps())
	}
	// The viewer closed: how one stops watching, not the capture's error.
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v, want nil: a reader that went away is no failure", err)
	}
	if n := strings.Count(log.String(), "the stream's reader has gone"); n != 1 {
		t.Errorf("the reader's going was logged %d times, want once:\n%s", n, log.String())
	}
	if st := s.Stats(); st.ReaderGone == 0 || st.WriteError != 0 {
		t.Errorf("stats %+v: want the frames after the reader left counted as reader_gone, not as write errors", st)
	}
	if files := s.Files(); len(files) != 1 {
		t.Errorf("files %q: a stream must not go on in a new file", files)
	}
}

// TestNamedPipeWaitSaysSoAndEnds: a named pipe with no reader yet makes
// Open say that it waits for one, and closing Cancel ends the wait with
// an error, instead of Open blocking for good.
func TestNamedPipeWaitSaysSoAndEnds(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	log := &syncbuf.Buffer{}
	cancel := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		s, err := Open(Config{Path: fifo, Meta: testMeta, Cancel: cancel, Logger: slog.New(slog.NewTextHandler(log, nil))})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(time.Minute) // a guard, not a measure
	for !strings.Contains(log.String(), "waiting for a reader on the named pipe") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the wait within a minute; log: %q", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(cancel)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stopped while waiting for a reader on the named pipe "+fifo) {
			t.Errorf("Open() = %v, want it stopped while waiting", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Open still waits a minute after Cancel closed")
	}
}

// TestRepairRefusesWhatIsNotAFile: Repair refuses a named pipe, a
// character device and a directory before opening them, naming what each
// is. A named pipe opened for reading and writing would never end the
// read, as Repair would hold its write end itself, so the test waits a
// minute at most.
func TestRepairRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "run.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, tc := range []struct{ path, what string }{
		{fifo, "a named pipe"},
		{os.DevNull, "a character device"},
		{dir, "a directory"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Repair(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				want := tc.path + ": not a regular file (" + tc.what + ")"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Repair(%s) = %v, want an error saying %q", tc.path, err, want)
				}
			case <-time.After(time.Minute): // a guard, not a measure
				t.Fatalf("Repair(%s) still runs after a minute", tc.path)
			}
		})
	}
}
