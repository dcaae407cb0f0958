package logq

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// DefaultMax is the queue's default bound in bytes: some thousands of
// log records, a burst of attaches or debug decisions that a terminal
// takes in well under a second.
const DefaultMax = 1 << 20

// Writer is an io.Writer that queues each Write for another goroutine to
// write to w, and drops it, counted, when the queue is full.
type Writer struct {
	w      io.Writer
	max    int
	notice func(lines uint64) []byte

	mu       sync.Mutex
	queue    [][]byte
	size     int    // bytes in queue and in the batch being written
	dropped  uint64 // lines dropped since the last notice was queued
	lost     uint64 // lines dropped in all
	queued   uint64 // writes queued since New
	written  uint64 // of them, written (or given up at Close)
	closed   bool
	gaveUp   atomic.Bool   // Close's context ended: write nothing more
	progress chan struct{} // closed, and replaced, as writes complete

	wake chan struct{} // the queue has something, or Close was called
	done chan struct{} // closed when the writing goroutine returns
}

// New returns a Writer that writes to w, holding up to max bytes
// (DefaultMax if max <= 0). notice makes the line that stands for lines
// dropped (nil: DropNotice); it is called with the Writer's lock held and
// must not write to it. The Writer's goroutine runs until Close.
func New(w io.Writer, max int, notice func(lines uint64) []byte) *Writer {
	if max <= 0 {
		max = DefaultMax
	}
	if notice == nil {
		notice = DropNotice
	}
	q := &Writer{w: w, max: max, notice: notice, progress: make(chan struct{}),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// noticeRoom is the room a Write wants beside its own before it makes the
// notice of the lines dropped: more than a notice takes.
const noticeRoom = 512

// DropNotice is the default notice: "N log lines dropped: stderr was not
// being read".
func DropNotice(lines uint64) []byte {
	return fmt.Appendf(nil, "%d log lines dropped: stderr was not being read\n", lines)
}

// Write queues a copy of p, whole, or drops it if the queue has no room
// for it (after a drop, for the notice too). It never blocks on the
// writer underneath and always returns len(p), nil: a log that could not
// be written is counted (Dropped), not an error of its caller's.
func (q *Writer) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// The notice is made only when it may fit: a stderr nobody reads
	// must not cost every dropped write a record's formatting.
	if q.dropped > 0 && !q.closed && q.size+noticeRoom+len(p) <= q.max {
		if n := q.notice(q.dropped); q.size+len(n)+len(p) <= q.max {
			q.dropped = 0
			q.push(n)
		}
	}
	if q.closed || q.dropped > 0 || q.size+len(p) > q.max {
		n := lines(p)
		q.lost += n
		if !q.closed {
			q.dropped += n
		}
		return len(p), nil
	}
	q.push(bytes.Clone(p))
	return len(p), nil
}

// push queues p; mu is held.
func (q *Writer) push(p []byte) {
	q.queue = append(q.queue, p)
	q.size += len(p)
	q.queued++
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Dropped returns how many lines were dropped in all.
func (q *Writer) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lost
}

// Flush waits until everything written before it was called has been
// written to w, with the notice of any lines dropped, or until ctx is
// done, and then returns ctx's error.
func (q *Writer) Flush(ctx context.Context) error {
	q.mu.Lock()
	if q.dropped > 0 && !q.closed {
		q.push(q.notice(q.dropped))
		q.dropped = 0
	}
	target := q.queued
	for q.written < target {
		ch := q.progress
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}

// Close flushes (Flush) and stops the Writer: later writes are dropped.
// If ctx ends first, what is still queued is given up (counted in
// Dropped) and Close returns ctx's error; a write blocked in w keeps the
// goroutine until it returns.
func (q *Writer) Close(ctx context.Context) error {
	err := q.Flush(ctx)
	q.mu.Lock()
	q.closed = true
	if err != nil {
		q.gaveUp.Store(true)
		for _, p := range q.queue {
			q.lost += lines(p)
			q.size -= len(p)
		}
		q.written += uint64(len(q.queue))
		q.queue = nil
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	if err != nil {
		return err
	}
	select {
	case <-q.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// run writes what is queued until Close, queuing the notice of lines
// dropped whenever the queue drains.
func (q *Writer) run() {
	defer close(q.done)
	var batch [][]byte
	for {
		q.mu.Lock()
		for len(q.queue) == 0 {
			if q.dropped > 0 && !q.closed {
				q.push(q.notice(q.dropped))
				q.dropped = 0
				break
			}
			if q.closed {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		batch, q.queue = q.queue, batch[:0]
		q.mu.Unlock()
		n := 0
		var lost uint64
		for i, p := range batch {
			if q.gaveUp.Load() {
				lost += lines(p)
			} else {
				q.w.Write(p) // an error has nowhere to go: the log is what would say it
			}
			n += len(p)
			batch[i] = nil
		}
		q.mu.Lock()
		q.lost += lost
		q.size -= n
		q.written += uint64(len(batch))
		close(q.progress)
		q.progress = make(chan struct{})
		q.mu.Unlock()
	}
}

// lines is how many log lines p holds: a record without a newline is one.
func lines(p []byte) uint64 { return uint64(max(bytes.Count(p, []byte{'\n'}), 1)) }
