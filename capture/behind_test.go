package capture

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
)

// blockedFile is a file whose writes wait until release is closed: a disk
// that hangs, or a live viewer the user paused, once the capture has
// started (its first write, the header Open writes, goes through).
type blockedFile struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
	started atomic.Bool
}

func (f *blockedFile) Write(p []byte) (int, error) {
	if f.started.Swap(true) {
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n += len(p)
	return len(p), nil
}

func (*blockedFile) Close() error { return nil }

// TestFellBehindWarnsAtOnce: the warning that the writer fell behind comes
// when the capture first drops a frame, while the write that holds the
// writer up is still blocked, not once it returns; while the drops go on
// it comes again at most once every behindEvery of the capture's clock.
func TestFellBehindWarnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := hub.NewVirtualClock(t0)
		driver := &hub.Driver{Clock: clock}
		logs := &logRecorder{}
		cfg := memConfig(nil)
		cfg.Logger = slog.New(logs)
		cfg.Clock = clock
		s := openStalled(t, cfg)
		// Enough for the writer's first batch, which blocks it, and a
		// full queue after it.
		s.send(1000)
		st := s.Stats()
		if st.QueueFull == 0 || st.Written != 0 {
			t.Fatalf("got %+v, want frames dropped with the writer blocked", st)
		}
		if n := behindWarnings(logs); n != 1 {
			t.Errorf("with the writer blocked and %d frames dropped: %d warnings, want 1 already", st.QueueFull, n)
		}
		s.send(100)
		driver.AdvanceTo(t0.Add(behindEvery-time.Millisecond), synctest.Wait)
		if n := behindWarnings(logs); n != 1 {
			t.Errorf("more drops before behindEvery passed: %d warnings, want still 1", n)
		}
		driver.AdvanceTo(t0.Add(behindEvery), synctest.Wait)
		if n := behindWarnings(logs); n != 2 {
			t.Errorf("once behindEvery passed after more drops: %d warnings, want 2", n)
		}
		driver.AdvanceTo(t0.Add(3*behindEvery), synctest.Wait)
		if n := behindWarnings(logs); n != 2 {
			t.Errorf("no drops since: %d warnings, want still 2", n)
		}
		s.release()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNoBehindWarningAfterClose: the goroutine that warns that the writer
// fell behind has stopped when Close returns, even when Close gives up on
// a stuck writer that goes on running: drops it has not warned of yet are
// left to the summary, and nothing is logged in their name after Close.
func TestNoBehindWarningAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := hub.NewVirtualClock(t0)
		driver := &hub.Driver{Clock: clock}
		logs := &logRecorder{}
		cfg := memConfig(nil)
		cfg.Logger = slog.New(logs)
		cfg.Clock, cfg.CloseTimeout = clock, time.Second
		s := openStalled(t, cfg)
		s.send(1000) // the first drops: a warning, then behindEvery of quiet
		s.send(100)  // more drops, a warning due once the quiet is over
		if n := behindWarnings(logs); n != 1 {
			t.Fatalf("before Close: %d warnings, want 1", n)
		}
		done := closeAsync(s.Sink)
		synctest.Wait()
		driver.AdvanceTo(t0.Add(cfg.CloseTimeout), synctest.Wait)
		if err, ok := returned(done); !ok || !errors.Is(err, ErrWriteStuck) {
			t.Fatalf("Close() = %v (returned %v), want ErrWriteStuck", err, ok)
		}
		driver.AdvanceTo(t0.Add(3*behindEvery), synctest.Wait)
		if n := behindWarnings(logs); n != 1 {
			t.Errorf("after Close returned: %d warnings, want still 1", n)
		}
	})
}

// recordingFile is a blockedFile that keeps what it is given.
type recordingFile struct {
	blockedFile
	data []byte
}

func (f *recordingFile) Write(p []byte) (int, error) {
	n, err := f.blockedFile.Write(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append(f.data, p...)
	return n, err
}

// stalled is a capture whose writer is stalled: its file blocks every
// write after the header (a hung disk, a paused live viewer) until release,
// and it drops frames once its queue, the least the Sink takes, is full.
type stalled struct {
	*Sink
	file    *recordingFile
	release func()
	sent    int
}

// openStalled opens cfg as a stalled capture with port 0 ("a") added. When
// the test ends the file is released and the Sink closed, for the bubble to
// end.
func openStalled(t *testing.T, cfg Config) *stalled {
	t.Helper()
	f := &recordingFile{blockedFile: blockedFile{release: make(chan struct{})}}
	cfg.Overflow = OverflowDrop
	cfg.QueueBytes = 1 // the least the Sink takes: two records of the largest size
	cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
	s := &stalled{Sink: mustOpen(t, cfg), file: f, release: sync.OnceFunc(func() { close(f.release) })}
	t.Cleanup(func() {
		s.release()
		s.Close()
	})
	synctest.Wait()
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	return s
}

// send observes n frames of 1500 bytes on port a, each a millisecond after
// the last, and waits until the writer is blocked in its write and the
// warner has done what it does.
func (s *stalled) send(n int) {
	for range n {
		ev := hub.Event{Time: t0.Add(time.Duration(s.sent) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1500, 1, 2, s.sent)}
		s.Observe(&ev)
		s.sent++
	}
	synctest.Wait()
}

// behindWarnings counts the warnings that the writer fell behind.
func behindWarnings(logs *logRecorder) int {
	n := 0
	for _, r := range logs.records(slog.LevelWarn) {
		if strings.Contains(r.Message, "writer fell behind") {
			n++
		}
	}
	return n
}

// annotationLines counts the lines equal to line kept in comments, and
// the lines comments say were left out.
func annotationLines(comments []string, line string) (kept int, lost uint64) {
	for _, c := range comments {
		kept += strings.Count(c, line)
		lost += LinesLeftOut(c)
	}
	return kept, lost
}

// TestStalledWriterBoundsAnnotations: while the writer is stalled (a paused
// live viewer), edits made through the control API grow no memory past
// maxNotes, however many: the lines past it are counted as left out, and
// said on the frame that carries the rest once the writer goes on.
func TestStalledWriterBoundsAnnotations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStalled(t, memConfig(nil))
		line := strings.Repeat("r", 60<<10) // a rule update of 60 KB
		s.send(1000)                        // the writer blocks in its first write, and the queue is full
		const updates = 100
		for range updates {
			s.Annotate(line)
			s.send(1)
		}
		s.mu.Lock()
		note, pending, limit := len(s.note), len(s.pending), s.limit
		s.mu.Unlock()
		if note > maxNotes || pending > limit {
			t.Errorf("with the writer stalled: %d bytes of annotations and %d queued, want at most %d and %d", note, pending, maxNotes, limit)
		}
		s.release()
		synctest.Wait()
		s.send(1)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got, r := readAll(t, s.file.data)
		comments := []string{r.Trailer()}
		for _, p := range got {
			comments = append(comments, p.Comment)
		}
		kept, lost := annotationLines(comments, line)
		if lost == 0 || kept+int(lost) != updates {
			t.Errorf("%d updates kept and %d said left out; want %d in all, some left out", kept, lost, updates)
		}
	})
}

// TestStalledWriterSetMetaBoundsAnnotations: while the writer is stalled,
// rounds of edits each ended by SetMeta (set-policy) queue their notes
// within the queue's bound, as frames are: the lines that do not fit are
// counted as left out, and every edit is either in the capture or counted.
// (Each round once queued all 480 KB.)
func TestStalledWriterSetMetaBoundsAnnotations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openStalled(t, memConfig(nil))
		line := strings.Repeat("r", 60<<10) // a rule update of 60 KB
		s.send(1000)                        // the writer blocks in its first write, and the queue is full
		const rounds, updates = 16, 8
		for i := range rounds {
			for range updates {
				s.Annotate(line)
			}
			m := testMeta
			m.Seed = uint64(i + 1)
			if _, err := s.SetMeta(m); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			pending, limit := len(s.pending), s.limit
			s.mu.Unlock()
			// SetMeta's own record is never dropped, nor the line that
			// says how many were left out: a few bytes a call.
			if most := limit + (i+1)*(2*recHdrLen+maxLostLine); pending > most {
				t.Fatalf("after %d rounds of %d updates and SetMeta, with the writer stalled: %d bytes queued, want at most %d (the queue's %d and %d a call)", i+1, updates, pending, most, limit, 2*recHdrLen+maxLostLine)
			}
			s.send(1)
		}
		s.release()
		synctest.Wait()
		s.send(1)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var comments []string
		var r *Reader
		r, err := NewReader(bytes.NewReader(s.file.data), ReadOptions{SectionEnd: func(int, []Interface) {
			comments = append(comments, r.SectionTrailer())
		}})
		if err != nil {
			t.Fatal(err)
		}
		for p, err := range r.All() {
			if err != nil {
				t.Fatal(err)
			}
			comments = append(comments, p.Comment)
		}
		comments = append(comments, r.SectionTrailer())
		kept, lost := annotationLines(comments, line)
		if lost == 0 || kept+int(lost) != rounds*updates {
			t.Errorf("%d updates kept and %d said left out; want %d in all, some left out", kept, lost, rounds*updates)
		}
	})
}
