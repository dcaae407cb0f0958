package lab

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

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

// summary.json marks a phase over its budget with over_budget, beside its
// status, for a CI script that reads the field; a phase within its budget
// has none.
func TestSummaryJSONOverBudget(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(6*sec, 1, "up"), say(7*sec, 0, "dial"),
		say(8*sec, 0, "session ok"), say(9*sec, 1, "session ok"), say(10*sec, 0, "done"))
	data, err := jsonIndent(summaryOf(t, l, j, ResultFail, nil))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Phases []map[string]any `json:"phases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Phases) != 2 {
		t.Fatalf("got phases %v, want boot and session", doc.Phases)
	}
	if boot := doc.Phases[0]; boot["status"] != PhaseOverBudget || boot["over_budget"] != true {
		t.Errorf("got boot %v, want status %q and over_budget true", boot, PhaseOverBudget)
	}
	if session := doc.Phases[1]; session["status"] != PhaseOK || session["over_budget"] != nil {
		t.Errorf("got session %v, want status ok and no over_budget", session)
	}
}

// summary.json's timeout_ms is the run's whole bound: the lab's timeout
// and --soak's time after it.
func TestSummaryTimeoutCountsTheSoak(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	const soak = 30 * time.Second
	j, _ := play(t, l, -1, soak, say(1*sec, 0, "up"), tickAt(200*sec))
	r := &runner{lab: l, judge: j, dir: t.TempDir(), opts: Options{Clock: wallclock.Clock{}, Soak: soak}}
	r.start = r.opts.Clock.Now()
	data, err := jsonIndent(r.summarize(ResultFail, nil))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Timeout int64 `json:"timeout_ms"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if want := (l.Timeout + soak).Milliseconds(); doc.Timeout != want {
		t.Errorf("got timeout_ms %d, want %d: the lab's %v and the soak's %v", doc.Timeout, want, l.Timeout, soak)
	}
}
