package lab

import (
	"errors"
	"testing"

	"l2hub/conformance/checker"
	"l2hub/internal/wallclock"
)

// summaryOf summarizes a judge's run as the runner does, with no capture.
func summaryOf(t *testing.T, l *Lab, j *judge, result string, report *checker.Report) *Summary {
	t.Helper()
	r := &runner{lab: l, judge: j, dir: t.TempDir(), opts: Options{Clock: wallclock.Clock{}}}
	r.start = r.opts.Clock.Now()
	return r.summarize(result, report)
}

// The checker's first failure in summary.json is its first finding that
// failed, not a warning before it.
func TestSummaryCheckFirstIsAFailure(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(2*sec, 1, "up"), tickAt(99*sec))
	report := &checker.Report{Profile: "nexus-v1", Warn: 1, Fail: 1, Findings: []checker.Finding{
		{ID: "W1", Verdict: checker.Warn, Message: "suspicious"},
		{ID: "F1", Verdict: checker.Fail, Message: "broken"},
	}}
	s := summaryOf(t, l, j, ResultFail, report)
	if s.Check == nil || s.Check.First == nil || s.Check.First.ID != "F1" {
		t.Errorf("got check summary %+v, want its first failure F1", s.Check)
	}
}

// A failure recorded once the run was done (the hub refused the change of
// a trigger the last marker fired) makes the summary a failure, though the
// loop had ended with a pass: summary.json, the verdict and junit.xml
// agree.
func TestSummaryWithAFailureIsNoPass(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, fires := play(t, l, -1, 0,
		say(2*sec, 0, "up"), say(3*sec, 1, "up"), say(4*sec, 0, "dial"),
		say(9*sec, 0, "session ok"), say(12*sec, 1, "session ok"), tickAt(60*sec), say(61*sec, 0, "done"))
	if !j.ok() {
		t.Fatalf("got failures %+v, want a passed run", j.failures)
	}
	j.acted(fires[len(fires)-1], errors.New("control API: timed out"), 61*sec, 61*sec)
	s := summaryOf(t, l, j, ResultPass, nil)
	if s.Result != ResultFail {
		t.Errorf("got result %q with failures %+v, want %q", s.Result, s.Failures, ResultFail)
	}
	if err := Verdict([]*Summary{s}, 1); err == nil {
		t.Errorf("got Verdict = nil, want the run failed")
	}
}

// A marker that never came has no time in summary.json: at_ms says when
// a marker was seen, and 0 would say at the run's start.
func TestSummaryMissingMarkerHasNoTime(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), tickAt(99*sec))
	s := summaryOf(t, l, j, ResultFail, nil)
	for _, m := range s.Phases[0].Markers {
		switch {
		case m.Status == StatusOK && m.At == nil:
			t.Errorf("got marker %s: %q seen with no time, want its time", m.VM, m.Marker)
		case m.Status != StatusOK && m.At != nil:
			t.Errorf("got marker %s: %q %s at %v, want no time", m.VM, m.Marker, m.Status, m.At.D())
		}
	}
	if m := s.Phases[0].Markers[1]; m.VM != "b" || m.Status != StatusMissing {
		t.Errorf("got boot's second marker %+v, want b's missing", m)
	}
}
