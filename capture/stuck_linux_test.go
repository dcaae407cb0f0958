package capture

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
)

// fillStuckStream opens a Sink with cfg (a stream whose reader never
// reads), gives it more frames than a pipe holds, closes it, and checks
// that Close gave up naming the stream, that the writer goroutine did not
// stay blocked in its write, and that the frames the stream did not take
// count as stuck, in Stats and in the summary the writer logs, not as
// write errors: the full disk's reason would send one looking for a disk
// problem.
func fillStuckStream(t *testing.T, cfg Config, name string) {
	t.Helper()
	logs := &logRecorder{}
	cfg.Meta, cfg.CloseTimeout, cfg.Logger = testMeta, 100*time.Millisecond, slog.New(logs)
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	for k := range 300 { // 420 KB, where a pipe holds 64 KiB
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1400, 1, 2, k)}
		s.Observe(&ev)
	}
	err := s.Close()
	if !errors.Is(err, ErrWriteStuck) || !strings.Contains(err.Error(), name) {
		t.Errorf("Close() = %v, want ErrWriteStuck naming %s", err, name)
	}
	select {
	case <-s.done:
	case <-time.After(hangGuard):
		t.Fatalf("the writer is still blocked in its write %v after Close gave up", hangGuard)
	}
	st := s.Stats()
	if st.Stuck == 0 || st.WriteError != 0 || st.Written+st.Stuck != st.Observed {
		t.Errorf("stats %+v: want the frames the stream did not take counted as stuck, none as write errors", st)
	}
	if errs := logs.records(slog.LevelError); len(errs) != 0 {
		t.Errorf("got error logs %v, want none: Close's error says what happened", errs)
	}
	warns := logs.records(slog.LevelWarn)
	if len(warns) == 0 || attr(warns[len(warns)-1], "stuck") != strconv.FormatUint(st.Stuck, 10) || attr(warns[len(warns)-1], "write_error") != "0" {
		t.Errorf("got warnings %v, want the summary to say stuck=%d write_error=0", warns, st.Stuck)
	}
}

// A named pipe whose reader stopped reading holds Close for the close
// timeout, and its blocked write ends then.
func TestNamedPipeReaderStopsReading(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	reader := make(chan *os.File, 1)
	go func() { // opens the pipe, then reads nothing
		f, err := os.Open(fifo)
		if err != nil {
			t.Error(err)
		}
		reader <- f
	}()
	fillStuckStream(t, Config{Path: fifo}, "the named pipe "+fifo)
	if f := <-reader; f != nil {
		f.Close()
	}
}

// So does standard output piped to a process that stopped reading, though
// standard output is a blocking descriptor that the process inherits.
func TestPipedStdoutReaderStopsReading(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(p[0]), "pipe-r"), os.NewFile(uintptr(p[1]), "stdout")
	defer r.Close()
	defer w.Close()
	fillStuckStream(t, Config{Path: Stdout, Create: func(string) (io.WriteCloser, error) { return stdoutStream(w), nil }}, "standard output")
	// The capture closed its own descriptor of the pipe, not standard
	// output's.
	if _, err := w.Stat(); err != nil {
		t.Errorf("standard output after the capture closed: %v", err)
	}
}
