// The conformance checker beside the report (Options.Check):
// checkAlongside hands it the capture as Build reads it, once, and waits
// for its verdict; findings pins what it found to the frames they cite.

package report

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"

	"l2hub/conformance/checker"
)

// checkResult is what the checker made of the capture.
type checkResult struct {
	profile checker.Profile
	report  checker.Report
	err     error
}

// checkAlongside returns a reader of r that hands the checker what it
// reads, and checked, which returns the checker's verdict once reading is
// done. The capture is read once (a pipe or a FIFO cannot be read again),
// and the checker, as `l2hub check` does, judges it in a goroutine of its
// own that checked waits for. When the report stopped before the end
// (Limits.MaxFrames, a corrupt block) and did not fail (drain), checked
// reads on for the checker, which judges a capture to its end, until the
// checker stops too (at the same corrupt block), the input ends or ctx
// does: what neither reads is not read (a FIFO that never ends). When the
// report failed, the checker stops at once.
func checkAlongside(r io.Reader, name string, p checker.Profile) (tee io.Reader, checked func(ctx context.Context, drain bool) checkResult) {
	pr, pw := io.Pipe()
	done := make(chan checkResult, 1)
	feed := &checkFeed{pw: pw}
	go func() {
		rep, err := checker.CheckReaders(checker.Options{Profile: p}, checker.Input{Name: name, R: pr})
		// What it did not read: the report reads on without it.
		feed.stopped.Store(true)
		pr.CloseWithError(errCheckDone)
		done <- checkResult{profile: p, report: rep, err: err}
	}()
	tee = io.TeeReader(r, feed)
	return tee, func(ctx context.Context, drain bool) checkResult {
		err := errReportFailed
		if drain {
			buf := make([]byte, 32<<10)
			for err = nil; err == nil && !feed.stopped.Load(); {
				if ctx.Err() != nil {
					err = errReportFailed
					break
				}
				_, err = tee.Read(buf)
			}
			if err == io.EOF {
				err = nil // the checker reads io.EOF
			}
		}
		pw.CloseWithError(err)
		return <-done
	}
}

// checkFeed is the checker's end of the tee: once the checker has stopped
// reading (stopped), what the report reads goes nowhere, and the report's
// reading never fails for it.
type checkFeed struct {
	pw      *io.PipeWriter
	stopped atomic.Bool
}

func (w *checkFeed) Write(p []byte) (int, error) {
	if w.stopped.Load() {
		return len(p), nil
	}
	n, err := w.pw.Write(p)
	if err != nil && w.stopped.Load() {
		return len(p), nil
	}
	return n, err
}

var (
	// errReportFailed ends the checker's input when the report failed.
	errReportFailed = errors.New("the report stopped reading the capture")
	// errCheckDone ends the report's feed of the checker once the
	// checker has stopped reading.
	errCheckDone = errors.New("the checker stopped reading the capture")
)

// findings pins the checker's findings to the frames they cite.
func (b *builder) findings(check checkResult) {
	r, err := check.report, check.err
	cs := &CheckSummary{Profile: check.profile.String(), OK: r.OK(), Fail: r.Fail, Warn: r.Warn, Pass: r.Pass, Info: r.Info}
	if err != nil {
		cs.Error = cleanText(err.Error(), 400)
		cs.OK = false
	}
	b.m.Check = cs
	titles := map[string]string{}
	for _, c := range checker.Checks() {
		titles[c.ID] = c.Title
	}
	for _, f := range r.Findings {
		fd := Finding{
			ID: cleanText(f.ID, 32), Verdict: f.Verdict.String(), Title: titles[f.ID],
			Message: cleanText(f.Message, 600), Frames: slices.Clone(f.Frames), Count: f.Count,
		}
		idx := len(b.m.Findings)
		for _, n := range f.Frames {
			fi, _, ok := b.m.FrameAt(n)
			if !ok || slices.Contains(fd.Pins, fi) {
				continue
			}
			fd.Pins = append(fd.Pins, fi)
			b.m.Frames[fi].Findings = append(b.m.Frames[fi].Findings, idx)
		}
		b.m.Findings = append(b.m.Findings, fd)
	}
}
