package capture

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
)

// stuckFile is a file whose writes block, as a pipe's do when its reader
// stops reading, until the test releases them (one write per step, or all
// with release) or, if it takes deadlines, until its write deadline is set.
type stuckFile struct {
	step      chan struct{} // each receive lets one write through
	release   chan struct{} // closed: every write goes through
	deadlines bool          // SetWriteDeadline is honoured

	mu      sync.Mutex
	expire  chan struct{} // closed by SetWriteDeadline
	written int
	started atomic.Bool // the first write, the header Open writes, goes through
}

func newStuckFile(deadlines bool) *stuckFile {
	return &stuckFile{step: make(chan struct{}), release: make(chan struct{}), deadlines: deadlines, expire: make(chan struct{})}
}

func (f *stuckFile) Write(p []byte) (int, error) {
	if f.started.Swap(true) {
		select {
		case <-f.step:
		case <-f.release:
		case <-f.expire:
			return 0, os.ErrDeadlineExceeded
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written += len(p)
	return len(p), nil
}

func (f *stuckFile) Close() error { return nil }

// stuckDeadlineFile is a stuckFile that takes write deadlines, as a pipe
// the runtime's poller waits on does.
type stuckDeadlineFile struct{ *stuckFile }

func (f stuckDeadlineFile) SetWriteDeadline(time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.expire:
	default:
		close(f.expire)
	}
	return nil
}

// pipeSink opens a Sink on f under a virtual clock, with a close timeout
// of 5s, and queues n frames of 1000 bytes, written in batches of batch
// bytes.
func pipeSink(t *testing.T, f io.WriteCloser, n, batch int) (*Sink, *hub.Driver) {
	t.Helper()
	clock := hub.NewVirtualClock(t0)
	cfg := memConfig(nil)
	cfg.Create = func(string) (io.WriteCloser, error) { return f, nil }
	cfg.Clock, cfg.CloseTimeout, cfg.BatchBytes = clock, 5*time.Second, batch
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	for k := range n {
		ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(1000, 1, 2, k)}
		s.Observe(&ev)
	}
	return s, &hub.Driver{Clock: clock}
}

// closeAsync calls s.Close on its own goroutine; the channel has its
// result.
func closeAsync(s *Sink) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Close() }()
	return ch
}

func returned(ch <-chan error) (error, bool) {
	select {
	case err := <-ch:
		return err, true
	default:
		return nil, false
	}
}

// A file that takes nothing (a pipe whose reader stopped reading) holds
// Close for Config.CloseTimeout of the capture's clock, not for good:
// Close then says which capture did not take its data.
func TestCloseGivesUpOnAStuckWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStuckFile(false)
		s, driver := pipeSink(t, f, 10, 4<<10)
		done := closeAsync(s)
		synctest.Wait()
		driver.AdvanceTo(t0.Add(5*time.Second-time.Nanosecond), synctest.Wait)
		synctest.Wait()
		if err, ok := returned(done); ok {
			t.Fatalf("Close returned %v before the close timeout was up", err)
		}
		driver.AdvanceTo(t0.Add(5*time.Second), synctest.Wait)
		synctest.Wait()
		err, ok := returned(done)
		if !ok {
			t.Fatal("Close still waits for a writer that took nothing for the close timeout")
		}
		if !errors.Is(err, ErrWriteStuck) || !strings.Contains(err.Error(), "/mem/run.pcapng") {
			t.Errorf("Close() = %v, want ErrWriteStuck naming the capture", err)
		}
		if again := s.Close(); again != err {
			t.Errorf("Close again = %v, want %v", again, err)
		}
		close(f.release) // the reader reads again: the writer finishes
	})
}

// A writer that goes on taking data, however slowly, is waited for: the
// close timeout counts from its last write, not from Close.
func TestCloseWaitsWhileTheWriterProgresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStuckFile(false)
		s, driver := pipeSink(t, f, 40, 4<<10) // ten batches and more
		closeStepping(t, s, driver, f.step, 10)
	})
}

// closeStepping closes s and, every 4s of virtual time (less than the
// close timeout), lets the writer's file take one more step, until Close
// returns: it must return nil, after at least min steps, and never give up
// while steps come.
func closeStepping(t *testing.T, s *Sink, driver *hub.Driver, step chan<- struct{}, min int) {
	t.Helper()
	done := closeAsync(s)
	synctest.Wait()
	now := t0
	for steps := 0; ; steps++ {
		if err, ok := returned(done); ok {
			if err != nil || steps < min {
				t.Fatalf("Close() = %v after %d slow steps, want nil after all of them", err, steps)
			}
			return
		}
		now = now.Add(4 * time.Second)
		driver.AdvanceTo(now, synctest.Wait)
		synctest.Wait()
		if err, ok := returned(done); ok {
			t.Fatalf("Close() = %v after %d steps, %v in: it gave up on a writer still writing", err, steps, now.Sub(t0))
		}
		step <- struct{}{}
		synctest.Wait()
	}
}

// A write blocked on a file that takes deadlines (a pipe the runtime's
// poller waits on) is ended when Close gives up: the writer counts the
// frames it could not write as stuck, not as write errors (no disk
// failed), and finishes, leaving no goroutine behind.
func TestCloseEndsABlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := stuckDeadlineFile{newStuckFile(true)}
		s, driver := pipeSink(t, f, 10, 4<<10)
		done := closeAsync(s)
		synctest.Wait()
		driver.AdvanceTo(t0.Add(5*time.Second), synctest.Wait)
		synctest.Wait()
		err, ok := returned(done)
		if !ok || !errors.Is(err, ErrWriteStuck) {
			t.Fatalf("Close() = %v (returned %v), want ErrWriteStuck", err, ok)
		}
		select {
		case <-s.done:
		default:
			t.Fatal("the writer goroutine is still blocked after Close gave up on its write")
		}
		if st := s.Stats(); st.Stuck != 10 || st.WriteError != 0 || st.Written != 0 {
			t.Errorf("stats %+v, want the 10 frames counted as stuck, none as write errors", st)
		}
	})
}

// A reader that takes one large batch slowly, a pipe's buffer at a time,
// is making progress: each piece it takes counts, so Close waits for it
// rather than give up within the batch (a 256 KiB batch to a reader of
// 40 KB/s takes longer than the close timeout).
func TestCloseWaitsForALargeBatchTakenSlowly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &slowPipe{step: make(chan struct{})}
		s, driver := pipeSink(t, f, 250, 256<<10) // one batch of about 256 KiB
		closeStepping(t, s, driver, f.step, 4)
		if st := s.Stats(); st.Written != 250 || st.WriteError != 0 {
			t.Errorf("stats %+v, want all 250 frames written", st)
		}
	})
}

// slowPipe is a pipe whose reader takes 64 KiB per step the test allows:
// a write returns once its last byte is taken, as write(2) into a pipe
// does. The first write, the header Open writes, goes through.
type slowPipe struct {
	step    chan struct{}
	started atomic.Bool
}

func (p *slowPipe) Write(b []byte) (int, error) {
	if !p.started.Swap(true) {
		return len(b), nil
	}
	for n := 0; n < len(b); n += 64 << 10 {
		<-p.step
	}
	return len(b), nil
}

func (p *slowPipe) Close() error { return nil }
