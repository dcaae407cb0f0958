package capture

import (
	"fmt"
	"time"
)

// The Sink's goroutines, and Close, which ends them. run is the writer
// goroutine: it takes the queue that Observe, PortAdded, Annotate and
// SetMeta fill (sink.go) a batch at a time and hands it to the writer
// (writer.go). warnBehind warns when Observe drops events because the
// writer fell behind. Close stops the warning first, then waits for the
// writer for as long as it makes progress (waitWriter).

// Close writes everything queued, closes every file and stops the writer.
// Events observed afterwards are dropped and counted. It returns Err (already
// logged); later calls return the same.
//
// Close waits for as long as the writer makes progress. A file or stream
// that takes nothing for Config.CloseTimeout (a pipe whose reader stopped
// reading, a hung network disk) makes it return an error wrapping
// ErrWriteStuck that names it, rather than hold its caller for good; what
// was still queued is then missing from the capture, counted as
// Stats.Stuck. A stream the
// runtime's poller waits on (a named pipe or a piped standard output, on
// Linux) has its blocked write ended, failed, and the writer finishes;
// elsewhere the writer goroutine may stay blocked in write(2) until its
// reader reads or goes away.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		// The warning that the writer fell behind stops first: from here
		// on the summary the writer logs as it ends says what was dropped,
		// and nothing is logged for the Sink once Close has returned, even
		// if it gives up on a stuck writer.
		close(s.stopWarn)
		<-s.warnDone
		s.mu.Lock()
		s.queueTrailerLocked()
		s.closed = true
		s.space.Broadcast()
		s.signal()
		s.mu.Unlock()
		s.closeErr = s.waitWriter()
	})
	return s.closeErr
}

// waitWriter waits for the writer goroutine to finish, for as long as it
// makes progress (Config.CloseTimeout).
func (s *Sink) waitWriter() error {
	d := s.cfg.CloseTimeout
	tick := make(chan struct{}, 1)
	timer := s.cfg.Clock.AfterFunc(d, func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	})
	defer timer.Stop()
	seen := s.stats.progress.Load()
	for stuck := false; !stuck; {
		select {
		case <-s.done:
			return s.Err()
		case <-tick:
		}
		now := s.stats.progress.Load()
		stuck, seen = now == seen, now
		timer.Reset(d)
	}
	what := "the file " + s.cfg.Path
	if s.cfg.stream {
		what = streamName(s.cfg.Path)
	}
	err := fmt.Errorf("capture to %s: %w: it took nothing for %v while the capture closed (does its reader still read?); what was still queued is not in the capture", what, ErrWriteStuck, d)
	if s.w.expireWrites() {
		// The blocked write returns now, failed; the writer counts what
		// it could not write and closes the files.
		select {
		case <-s.done:
		case <-tick:
		}
	}
	return err
}

// run is the writer goroutine. It takes the pending records when Observe
// says there is a batch's worth, when Close asks, and every FlushInterval,
// writes them and flushes what it has: a busy hub pays one wake-up per
// batch, not per frame, and a quiet one sees its frames on disk within
// FlushInterval. The clock's timer decides only when bytes reach the disk,
// never which bytes, and, after a file failed, when the next one is tried.
func (s *Sink) run() {
	defer close(s.done)
	tick := make(chan struct{}, 1)
	timer := s.cfg.Clock.AfterFunc(s.cfg.FlushInterval, func() {
		select {
		case tick <- struct{}{}:
		default: // the last tick is not taken yet: one is enough
		}
	})
	defer timer.Stop()
	// A failed file is retried every RetryInterval, counted in ticks.
	retryTicks := max(int(s.cfg.RetryInterval/s.cfg.FlushInterval), 1)
	ticks := 0
	var chunk []byte
	var metas []metaChange
	for {
		retry := false
		select {
		case <-s.wake:
		case <-tick:
			timer.Reset(s.cfg.FlushInterval)
			if ticks++; ticks >= retryTicks && s.cfg.RetryInterval > 0 {
				ticks, retry = 0, true
			}
		}
		if retry {
			s.w.retryFailed()
		}
		s.mu.Lock()
		chunk, s.pending = s.pending, chunk[:0]
		metas, s.metas = s.metas, metas[:0]
		closed := s.closed
		s.space.Broadcast()
		s.mu.Unlock()

		s.w.process(chunk, metas)
		clear(metas)
		s.w.flushAll()
		if closed {
			s.w.closeAll()
			s.logSummary()
			return
		}
	}
}

// behindEvery is the least time between two warnings that the writer fell
// behind: one when it first drops an event, then, while it goes on
// dropping, one a while with the count so far.
const behindEvery = 10 * time.Second

// warnBehind is the goroutine that warns when Observe drops events because
// the writer fell behind. It is not the writer's: the writer may be the
// one stuck, in a write to a disk or a paused viewer, and the warning is
// due when the capture starts losing frames, not once that write returns.
// It waits for nothing but Observe's signal and the clock, and Close stops
// it, and waits for it, before anything else.
func (s *Sink) warnBehind() {
	defer close(s.warnDone)
	for {
		select {
		case <-s.behind:
		case <-s.stopWarn:
			return
		}
		select {
		case <-s.stopWarn: // both were ready: Close has begun
			return
		default:
		}
		s.cfg.Logger.Warn("capture: writer fell behind; dropping frames from the capture (forwarding is not affected)",
			"path", s.cfg.Path, "queue_bytes", s.limit, "queue_full", s.stats.queueFull.Load())
		quiet := make(chan struct{})
		t := s.cfg.Clock.AfterFunc(behindEvery, func() { close(quiet) })
		select {
		case <-quiet:
		case <-s.stopWarn:
			t.Stop()
			return
		}
	}
}

func (s *Sink) logSummary() {
	st := s.Stats()
	if st.QueueFull+st.WriteError+st.ReaderGone+st.Stuck+st.Closed == 0 {
		return
	}
	s.cfg.Logger.Warn("capture: frames missing from the capture",
		"path", s.cfg.Path, "written", st.Written,
		"queue_full", st.QueueFull, "write_error", st.WriteError, "reader_gone", st.ReaderGone, "stuck", st.Stuck, "after_close", st.Closed)
}
