package logq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"l2hub/internal/logq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds a wait that only a bug makes long.
const hangGuard = time.Minute

// stuck is a writer whose reader has stopped reading: every Write waits
// until release; the bytes written are kept.
type stuck struct {
	gate chan struct{}
	once sync.Once
	mu   sync.Mutex
	out  bytes.Buffer
}

func newStuck() *stuck { return &stuck{gate: make(chan struct{})} }

func (s *stuck) release() { s.once.Do(func() { close(s.gate) }) }

func (s *stuck) Write(p []byte) (int, error) {
	<-s.gate
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *stuck) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// within runs fn and fails the test if it has not returned within the
// hang guard: what it guards must not block at all.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s blocked", what)
	}
}

// line is the ith 10-byte record.
func line(i int) string { return fmt.Sprintf("line %04d\n", i) }

func closeQ(t *testing.T, q *logq.Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFullQueueDropsAndCounts: a writer that takes nothing never holds a
// caller; what the queue cannot hold is dropped and counted by lines, and
// once the writer reads again what was queued comes out, in order, then
// one notice of the drops.
func TestFullQueueDropsAndCounts(t *testing.T) {
	w := newStuck()
	t.Cleanup(w.release)
	q := logq.New(w, 100, nil) // ten records
	within(t, "Write to a full queue", func() {
		for i := range 50 {
			if n, err := q.Write([]byte(line(i))); n != 10 || err != nil {
				t.Errorf("got Write(line %d) = %d, %v; want 10, nil", i, n, err)
			}
		}
		q.Write([]byte("two\nlines\n"))
	})
	if got, want := q.Dropped(), uint64(42); got != want {
		t.Errorf("got %d lines dropped, want %d (40 records and one of two lines)", got, want)
	}
	w.release()
	closeQ(t, q)
	var want strings.Builder
	for i := range 10 {
		want.WriteString(line(i))
	}
	want.WriteString("42 log lines dropped: stderr was not being read\n")
	if got := w.String(); got != want.String() {
		t.Errorf("got output\n%s\nwant\n%s", got, want.String())
	}
}

// TestNoticeWhereTheLinesWent: the notice of the drops comes before the
// first record written after them, whoever queued it.
func TestNoticeWhereTheLinesWent(t *testing.T) {
	w := newStuck()
	t.Cleanup(w.release)
	q := logq.New(w, 100, func(n uint64) []byte { return fmt.Appendf(nil, "dropped %d\n", n) })
	for i := range 12 {
		q.Write([]byte(line(i)))
	}
	w.release()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	q.Write([]byte("after\n"))
	q.Write([]byte("more\n"))
	closeQ(t, q)
	got := w.String()
	want := line(9) + "dropped 2\nafter\nmore\n"
	if !strings.HasSuffix(got, want) || strings.Count(got, "dropped") != 1 {
		t.Errorf("got output\n%s\nwant it to end\n%s", got, want)
	}
}

// TestCloseGivesUp: Close on a writer that takes nothing returns once its
// context ends, with its error; what was queued is counted as dropped, and
// so is what is written after it.
func TestCloseGivesUp(t *testing.T) {
	w := newStuck()
	q := logq.New(w, 100, nil)
	for i := range 5 {
		q.Write([]byte(line(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- q.Close(ctx) }()
	cancel()
	select {
	case err := <-closed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got Close = %v, want context.Canceled", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close did not return when its context ended")
	}
	q.Write([]byte("late\n"))
	w.release()
	closeQ(t, q) // the goroutine ends once its stuck write returns
	// A record may have been in the stuck write; the rest were given up.
	got := w.String()
	written := strings.Count(got, "line")
	if written > 1 || strings.Contains(got, "late") {
		t.Errorf("got output %q after Close gave up, want at most the record in the stuck write", got)
	}
	if d := q.Dropped(); d+uint64(written) != 6 {
		t.Errorf("got %d lines dropped and %d written, want the 6 written to the Writer", d, written)
	}
}

// TestFlushWaits: Flush returns once what was written before it is out,
// and not before; with a context that ends, it returns its error.
func TestFlushWaits(t *testing.T) {
	w := newStuck()
	q := logq.New(w, 0, nil)
	t.Cleanup(func() { w.release(); closeQ(t, q) })
	q.Write([]byte("one\n"))
	ctx, cancel := context.WithCancel(context.Background())
	flushed := make(chan error, 1)
	go func() { flushed <- q.Flush(ctx) }()
	cancel()
	select {
	case err := <-flushed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got Flush = %v with the writer stuck, want context.Canceled", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Flush did not return when its context ended")
	}
	w.release()
	within(t, "Flush", func() {
		if err := q.Flush(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if got := w.String(); got != "one\n" {
		t.Errorf("got output %q after Flush, want %q", got, "one\n")
	}
}

// TestFullQueueMakesNoNotice: while the queue has no room, a dropped write
// does not make the notice (a record's formatting, on the caller's
// goroutine, perhaps the hub's loop): it is made once there is room.
func TestFullQueueMakesNoNotice(t *testing.T) {
	w := newStuck()
	t.Cleanup(w.release)
	var made atomic.Int64
	q := logq.New(w, 1000, func(lines uint64) []byte {
		made.Add(1)
		return logq.DropNotice(lines)
	})
	within(t, "Write to a full queue", func() {
		for i := range 1000 {
			q.Write([]byte(line(i)))
		}
	})
	if n := made.Load(); n != 0 {
		t.Errorf("the notice was made %d times while the queue was full, want none", n)
	}
	w.release()
	closeQ(t, q)
	if n := made.Load(); n == 0 || !strings.Contains(w.String(), "900 log lines dropped") {
		t.Errorf("made the notice %d times, output ends %q; want it made once there was room", n, w.String()[max(0, len(w.String())-80):])
	}
}

// TestDroppedWriteWithoutNewlineIsALine: a dropped write that ends in no
// newline still counts as one line lost.
func TestDroppedWriteWithoutNewlineIsALine(t *testing.T) {
	w := newStuck()
	t.Cleanup(w.release)
	q := logq.New(w, 10, nil)
	q.Write([]byte("0123456789")) // fills the queue
	q.Write([]byte("no newline"))
	if got := q.Dropped(); got != 1 {
		t.Errorf("got %d lines dropped, want 1", got)
	}
	w.release()
	closeQ(t, q)
}

// gated is a writer that says when a Write starts and waits for leave to
// let it finish.
type gated struct {
	entered chan string
	leave   chan struct{}
	mu      sync.Mutex
	out     bytes.Buffer
}

func (g *gated) Write(p []byte) (int, error) {
	g.entered <- string(p)
	<-g.leave
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.out.Write(p)
}

// TestWriteAfterRoomGoesOutAfterNotice: once the queue has room again
// while an earlier record is still being written, the next write queues
// the notice of the drops and is itself kept, after it.
func TestWriteAfterRoomGoesOutAfterNotice(t *testing.T) {
	g := &gated{entered: make(chan string, 16), leave: make(chan struct{}, 16)}
	q := logq.New(g, 1000, func(n uint64) []byte { return fmt.Appendf(nil, "dropped %d\n", n) })
	big := strings.Repeat("x", 984) + "\n"
	q.Write([]byte(big))
	<-g.entered // big is being written: it holds 985 of 1000 bytes
	q.Write([]byte(line(0)))
	q.Write([]byte(line(1))) // no room: dropped
	g.leave <- struct{}{}
	<-g.entered // line 0 is being written: the queue is empty, with room
	q.Write([]byte(line(2)))
	for range 8 {
		g.leave <- struct{}{}
	}
	go func() {
		for range g.entered {
		}
	}()
	closeQ(t, q)
	close(g.entered)
	want := big + line(0) + "dropped 1\n" + line(2)
	if got := g.out.String(); got != want {
		t.Errorf("got output ending %q, want it to end %q", got[len(big):], want[len(big):])
	}
	if got := q.Dropped(); got != 1 {
		t.Errorf("got %d lines dropped, want 1", got)
	}
}

// TestNoWriteBetweenTheDropsAndTheirNotice: once a write was dropped, a
// later one that would fit is dropped too until the notice fits before
// it, so the notice stands where the lines went.
func TestNoWriteBetweenTheDropsAndTheirNotice(t *testing.T) {
	w := newStuck()
	t.Cleanup(w.release)
	q := logq.New(w, 1000, nil)
	a, b := strings.Repeat("a", 599)+"\n", strings.Repeat("b", 599)+"\n"
	q.Write([]byte(a))
	q.Write([]byte(b))           // no room: dropped
	q.Write([]byte("after b\n")) // room for it, none for the notice
	w.release()
	closeQ(t, q)
	if got, want := w.String(), a+"2 log lines dropped: stderr was not being read\n"; got != want {
		t.Errorf("got output\n%q\nwant\n%q", got, want)
	}
	if got := q.Dropped(); got != 2 {
		t.Errorf("got %d lines dropped, want 2", got)
	}
}

// TestGivenUpBatchIsCounted: when Close gives up while the writer is in
// the middle of a batch, the batch's lines not yet written are counted as
// dropped.
func TestGivenUpBatchIsCounted(t *testing.T) {
	g := &gated{entered: make(chan string, 16), leave: make(chan struct{}, 16)}
	q := logq.New(g, 1000, nil)
	t.Cleanup(func() { close(g.leave); closeQ(t, q) })
	q.Write([]byte(line(0)))
	<-g.entered // line 0 is being written: lines 1 and 2 make the next batch
	q.Write([]byte(line(1)))
	q.Write([]byte(line(2)))
	g.leave <- struct{}{}
	if p := <-g.entered; p != line(1) {
		t.Fatalf("got %q written after line 0, want line 1", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got Close = %v with line 1 in the writer, want context.Canceled", err)
	}
	g.leave <- struct{}{} // line 1's write returns; line 2 is given up
	closeQ(t, q)          // waits for the goroutine
	if got, want := g.out.String(), line(0)+line(1); got != want {
		t.Errorf("got output %q, want %q", got, want)
	}
	if got := q.Dropped(); got != 1 {
		t.Errorf("got %d lines dropped, want 1 (line 2, given up in the batch)", got)
	}
}

// TestFlushWaitsForTheNotice: Flush returns once the notice of the lines
// dropped before it was called is written too, not only the lines kept.
func TestFlushWaitsForTheNotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gated{entered: make(chan string, 16), leave: make(chan struct{}, 16)}
		q := logq.New(g, 100, nil)
		t.Cleanup(func() { close(g.leave); closeQ(t, q) })
		for i := range 12 {
			q.Write([]byte(line(i))) // ten kept, two dropped
		}
		flushed := make(chan error, 1)
		go func() { flushed <- q.Flush(context.Background()) }()
		synctest.Wait() // Flush is waiting
		for range 10 {
			g.leave <- struct{}{}
		}
		const notice = "2 log lines dropped: stderr was not being read\n"
		for p := range g.entered {
			if p == notice {
				break
			}
		}
		synctest.Wait() // the notice is in the writer, the rest waiting
		select {
		case err := <-flushed:
			t.Fatalf("got Flush = %v before the notice was written, want it to wait", err)
		default:
		}
		g.leave <- struct{}{}
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		if got := g.out.String(); !strings.HasSuffix(got, line(9)+notice) {
			t.Errorf("got output\n%s\nwant it to end with line 9 and the notice", got)
		}
	})
}

// TestNoticeWithoutAnotherWrite: once the writer takes lines again, the
// notice of the drops comes out when the queue drains, without waiting
// for another write, a Flush or the Close.
func TestNoticeWithoutAnotherWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStuck()
		q := logq.New(w, 100, nil)
		t.Cleanup(func() { w.release(); closeQ(t, q) })
		for i := range 12 {
			q.Write([]byte(line(i)))
		}
		w.release()
		synctest.Wait() // the writing goroutine has nothing more to do
		if got := w.String(); !strings.HasSuffix(got, line(9)+"2 log lines dropped: stderr was not being read\n") {
			t.Errorf("got output\n%s\nwant it to end with the notice", got)
		}
	})
}
