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
		f := &blockedFile{release: make(chan struct{})}
		logs := &logRecorder{}
		cfg := memConfig(nil)
		cfg.Overflow = OverflowDrop
		cfg.QueueBytes = 1 // the least the Sink takes: two records of the largest size
		cfg.Logger = slog.New(logs)
		cfg.Clock = clock
		cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
		s := mustOpen(t, cfg)
		release := sync.OnceFunc(func() { close(f.release) })
		defer func() { // also when the test fails early, for the bubble to end
			release()
			s.Close()
		}()
		synctest.Wait()
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
		k := 0
		send := func(n int) {
			for range n {
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1500, 1, 2, k)}
				s.Observe(&ev)
				k++
			}
			synctest.Wait() // the writer is blocked in its write, the warner has done what it does
		}
		warnings := func() int {
			n := 0
			for _, r := range logs.records(slog.LevelWarn) {
				if strings.Contains(r.Message, "writer fell behind") {
					n++
				}
			}
			return n
		}
		// Enough for the writer's first batch, which blocks it, and a
		// full queue after it.
		send(1000)
		st := s.Stats()
		if st.QueueFull == 0 || st.Written != 0 {
			t.Fatalf("got %+v, want frames dropped with the writer blocked", st)
		}
		if n := warnings(); n != 1 {
			t.Errorf("with the writer blocked and %d frames dropped: %d warnings, want 1 already", st.QueueFull, n)
		}
		send(100)
		driver.AdvanceTo(t0.Add(behindEvery-time.Millisecond), synctest.Wait)
		if n := warnings(); n != 1 {
			t.Errorf("more drops before behindEvery passed: %d warnings, want still 1", n)
		}
		driver.AdvanceTo(t0.Add(behindEvery), synctest.Wait)
		if n := warnings(); n != 2 {
			t.Errorf("once behindEvery passed after more drops: %d warnings, want 2", n)
		}
		driver.AdvanceTo(t0.Add(3*behindEvery), synctest.Wait)
		if n := warnings(); n != 2 {
			t.Errorf("no drops since: %d warnings, want still 2", n)
		}
		release()
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
		f := &blockedFile{release: make(chan struct{})}
		logs := &logRecorder{}
		cfg := memConfig(nil)
		cfg.Overflow = OverflowDrop
		cfg.QueueBytes = 1
		cfg.Logger = slog.New(logs)
		cfg.Clock, cfg.CloseTimeout = clock, time.Second
		cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
		s := mustOpen(t, cfg)
		defer close(f.release) // the writer finishes, for the bubble to end
		synctest.Wait()
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
		k := 0
		send := func(n int) {
			for range n {
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1500, 1, 2, k)}
				s.Observe(&ev)
				k++
			}
			synctest.Wait()
		}
		warnings := func() int {
			n := 0
			for _, r := range logs.records(slog.LevelWarn) {
				if strings.Contains(r.Message, "writer fell behind") {
					n++
				}
			}
			return n
		}
		send(1000) // the first drops: a warning, then behindEvery of quiet
		send(100)  // more drops, a warning due once the quiet is over
		if n := warnings(); n != 1 {
			t.Fatalf("before Close: %d warnings, want 1", n)
		}
		done := closeAsync(s)
		synctest.Wait()
		driver.AdvanceTo(t0.Add(cfg.CloseTimeout), synctest.Wait)
		if err, ok := returned(done); !ok || !errors.Is(err, ErrWriteStuck) {
			t.Fatalf("Close() = %v (returned %v), want ErrWriteStuck", err, ok)
		}
		driver.AdvanceTo(t0.Add(3*behindEvery), synctest.Wait)
		if n := warnings(); n != 1 {
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

// TestStalledWriterBoundsAnnotations: while the writer is stalled (a paused
// live viewer), edits made through the control API grow no memory past
// maxNotes, however many: the lines past it are counted as left out, and
// said on the frame that carries the rest once the writer goes on.
func TestStalledWriterBoundsAnnotations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &recordingFile{blockedFile: blockedFile{release: make(chan struct{})}}
		cfg := memConfig(nil)
		cfg.Overflow = OverflowDrop
		cfg.QueueBytes = 1
		cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
		s := mustOpen(t, cfg)
		release := sync.OnceFunc(func() { close(f.release) })
		defer func() {
			release()
			s.Close()
		}()
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
		line := strings.Repeat("r", 60<<10) // a rule update of 60 KB
		k := 0
		send := func(n int) {
			for range n {
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1500, 1, 2, k)}
				s.Observe(&ev)
				k++
			}
			synctest.Wait()
		}
		send(1000) // the writer blocks in its first write, and the queue is full
		const updates = 100
		for range updates {
			s.Annotate(line)
			send(1)
		}
		s.mu.Lock()
		note, pending, limit := len(s.note), len(s.pending), s.limit
		s.mu.Unlock()
		if note > maxNotes || pending > limit {
			t.Errorf("with the writer stalled: %d bytes of annotations and %d queued, want at most %d and %d", note, pending, maxNotes, limit)
		}
		release()
		synctest.Wait()
		send(1)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got, r := readAll(t, f.data)
		comments := []string{r.Trailer()}
		for _, p := range got {
			comments = append(comments, p.Comment)
		}
		kept, lost := 0, uint64(0)
		for _, c := range comments {
			kept += strings.Count(c, line)
			lost += LinesLeftOut(c)
		}
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
		f := &recordingFile{blockedFile: blockedFile{release: make(chan struct{})}}
		cfg := memConfig(nil)
		cfg.Overflow = OverflowDrop
		cfg.QueueBytes = 1
		cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
		s := mustOpen(t, cfg)
		release := sync.OnceFunc(func() { close(f.release) })
		defer func() {
			release()
			s.Close()
		}()
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
		line := strings.Repeat("r", 60<<10) // a rule update of 60 KB
		k := 0
		send := func(n int) {
			for range n {
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1500, 1, 2, k)}
				s.Observe(&ev)
				k++
			}
			synctest.Wait()
		}
		send(1000) // the writer blocks in its first write, and the queue is full
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
			send(1)
		}
		release()
		synctest.Wait()
		send(1)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var comments []string
		var r *Reader
		r, err := NewReader(bytes.NewReader(f.data), ReadOptions{SectionEnd: func(int, []Interface) {
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
		kept, lost := 0, uint64(0)
		for _, c := range comments {
			kept += strings.Count(c, line)
			lost += LinesLeftOut(c)
		}
		if lost == 0 || kept+int(lost) != rounds*updates {
			t.Errorf("%d updates kept and %d said left out; want %d in all, some left out", kept, lost, rounds*updates)
		}
	})
}
