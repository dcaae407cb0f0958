package lab

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/internal/wallclock"
)

// A marker's test case takes no time, whenever the marker came: CI pages
// add up the cases' times, and times since the run's start added up to
// many times the suite's. A phase's case takes the phase's duration.
func TestJUnitTimes(t *testing.T) {
	at := func(d time.Duration) *ms { return msp(d) }
	s := &Summary{Lab: "l", Result: ResultPass, Duration: ms(9500 * time.Millisecond),
		Expect: []MarkerSummary{{VM: "a", Marker: "done", Status: StatusOK, At: at(9 * time.Second)}},
		Phases: []PhaseSummary{{Name: "ping", Status: StatusOK, Start: at(7 * time.Second), End: at(8 * time.Second), Duration: at(time.Second),
			Markers: []MarkerSummary{{VM: "a", Marker: "pong", Status: StatusOK, At: at(8 * time.Second)}}}}}
	doc, _ := junitOf(t, s)
	got := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		got[c.Name] = c.Time
	}
	want := map[string]string{"a: done": "0", "phase ping": "1.000", "a: pong": "0"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("case %q: got time %q, want %q (all: %v)", name, got[name], w, got)
		}
	}
}

// An ERROR summary (the hub could not run) has no marker: no table of
// them, not even its header.
func TestSummaryTextErrorHasNoEmptyTable(t *testing.T) {
	var b bytes.Buffer
	(&Summary{Lab: "l", Result: ResultError, Error: "port a: bind: address already in use"}).WriteText(&b)
	if out := b.String(); strings.Contains(out, "MARKER") {
		t.Errorf("got\n%s\nwant no marker table", out)
	}
	b.Reset()
	(&Summary{Lab: "l", Result: ResultPass, Expect: []MarkerSummary{{VM: "a", Marker: "up", Status: StatusOK}}}).WriteText(&b)
	if out := b.String(); !strings.Contains(out, "VM  MARKER  STATUS") {
		t.Errorf("got\n%s\nwant the marker table", out)
	}
}

// A budget overrun is soft: when a timeout follows, the timeout ended the
// run. Its marker is missing (not "not reached"), and junit.xml's failed
// phase and missing marker report the timeout, while the over-budget
// phase keeps the budget's failure; the classification stays the budget.
func TestJUnitBudgetThenTimeout(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(6*sec, 1, "up"), say(7*sec, 0, "dial"), tickAt(99*sec))
	r := &runner{lab: l, judge: j, dir: t.TempDir(), opts: Options{Clock: wallclock.Clock{}}}
	r.start = r.opts.Clock.Now()
	s := r.summarize(ResultFail, nil)
	if c := s.Classification; c == nil || c.Code != "BOOT_BUDGET" {
		t.Fatalf("got classification %+v, want BOOT_BUDGET", c)
	}
	status := map[string]string{}
	for _, m := range s.Phases[1].Markers {
		status[m.VM+": "+m.Marker] = m.Status
	}
	if want := map[string]string{"a: dial": StatusOK, "a: session ok": StatusMissing, "b: session ok": StatusMissing}; !maps.Equal(status, want) {
		t.Errorf("got session markers %v, want %v", status, want)
	}
	doc, raw := junitOf(t, s)
	got := map[string]string{}
	for _, jc := range doc.Suites[0].Cases {
		switch {
		case jc.Failure != nil:
			got[jc.Name] = "failed " + jc.Failure.Type
		case jc.Skipped != nil:
			got[jc.Name] = "skipped"
		}
	}
	want := map[string]string{
		"phase boot":                            "failed BOOT_BUDGET",
		"phase session":                         "failed SESSION_TIMEOUT",
		"a: session ok":                         "failed SESSION_TIMEOUT",
		"b: session ok":                         "failed SESSION_TIMEOUT",
		"a: done":                               "skipped",
		"trigger-2: at 50s: link b down for 1s": "skipped",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got junit.xml cases\n  %v\nwant\n  %v\n%s", got, want, raw)
	}
	// CI pages show the counts, not the cases: they must add up.
	tests, failed, skipped := len(doc.Suites[0].Cases), 0, 0
	for _, n := range want {
		if n == "skipped" {
			skipped++
		} else {
			failed++
		}
	}
	for _, c := range [][2]int{{doc.Tests, tests}, {doc.Failures, failed}, {doc.Skipped, skipped}, {doc.Suites[0].Tests, tests}, {doc.Suites[0].Failures, failed}, {doc.Suites[0].Skipped, skipped}} {
		if c[0] != c[1] {
			t.Errorf("got junit.xml counts tests=%d/%d failures=%d/%d skipped=%d/%d (suites/suite), want %d, %d, %d",
				doc.Tests, doc.Suites[0].Tests, doc.Failures, doc.Suites[0].Failures, doc.Skipped, doc.Suites[0].Skipped, tests, failed, skipped)
			break
		}
	}
	if !strings.Contains(raw, `missing marker: &#34;session ok&#34; (VM a)`) {
		t.Errorf("got junit.xml\n%s\nwant the timeout's missing marker named", raw)
	}
}

// After a budget overrun, the summary for people says what the failure
// that ended the run missed, and what the wire saw, under its then: line;
// a failure after it (none here) would get only its line.
func TestSummaryTextBudgetThenTimeout(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(6*sec, 1, "up"), say(7*sec, 0, "dial"), tickAt(99*sec))
	r := &runner{lab: l, judge: j, dir: t.TempDir(), opts: Options{Clock: wallclock.Clock{}}}
	r.start = r.opts.Clock.Now()
	s := r.summarize(ResultFail, nil)
	if len(s.Failures) < 2 || s.Failures[1].Code != "SESSION_TIMEOUT" {
		t.Fatalf("got failures %+v, want BOOT_BUDGET then SESSION_TIMEOUT", s.Failures)
	}
	s.Failures[1].Hint = &Hint{Text: "no frame from a in 6.0s-36.0s"} // no capture here to count
	var b bytes.Buffer
	s.WriteText(&b)
	text := b.String()
	then := strings.Index(text, "  then: SESSION_TIMEOUT at ")
	for _, want := range []string{"\n    missing marker: \"session ok\"\n    also missing on b: \"session ok\"\n", "\n    wire: no frame from a in 6.0s-36.0s\n"} {
		if then < 0 || !strings.Contains(text[then:], want) {
			t.Errorf("got summary\n%s\nwant under the then: line\n%s", text, want)
		}
	}
}

// A failed case in junit.xml carries the command that reruns the run, its
// seed included, and the last 20 console lines of the VM it concerns,
// oldest first.
func TestJUnitFailureCarriesRerunAndTail(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	steps := []step{say(1*sec, 0, "up")}
	for i := 1; i <= tailLines+5; i++ {
		steps = append(steps, say(time.Duration(i)*time.Second/10+time.Second, 1, fmt.Sprintf("b line %d", i)))
	}
	j, _ := play(t, l, -1, 0, append(steps, tickAt(99*sec))...)
	s := summaryOf(t, l, j, ResultFail, nil)
	s.Rerun = "l2hub lab lab.yaml --seed 7"
	doc, _ := junitOf(t, s)
	var text string
	for _, c := range doc.Suites[0].Cases {
		if c.Name == "b: up" && c.Failure != nil {
			text = c.Failure.Text
		}
	}
	if !strings.Contains(text, "rerun: l2hub lab lab.yaml --seed 7\n") {
		t.Errorf("got b's failure\n%s\nwant the rerun command", text)
	}
	var tail []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "b line "); i >= 0 {
			tail = append(tail, line[i:])
		}
	}
	if len(tail) != tailLines || tail[0] != "b line 6" || tail[len(tail)-1] != "b line 25" {
		t.Errorf("got b's console tail %q, want its last %d lines, 6 to 25", tail, tailLines)
	}
}

// The failure junit.xml's missing markers report is the one that ended the
// run: the earliest that is not a budget overrun.
func TestJUnitDecisiveFailure(t *testing.T) {
	s := &Summary{Failures: []FailureSummary{
		{Code: "BOOT_BUDGET", At: ms(1 * time.Second)},
		{Code: "FAIL_ON", At: ms(4 * time.Second)},
		{Code: "TRIGGER_FAILED", At: ms(3 * time.Second)},
		{Code: "SESSION_BUDGET", At: ms(2 * time.Second)},
	}}
	if d := s.decisive(); d == nil || d.Code != "TRIGGER_FAILED" {
		t.Errorf("got decisive() = %+v, want TRIGGER_FAILED (3s)", d)
	}
}

// junitOf is s's junit.xml, written and read back, and its text.
func junitOf(t *testing.T, s *Summary) (junitSuites, string) {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc, b.String()
}

// readJUnit reads the junit.xml at path.
func readJUnit(t *testing.T, path string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// junit.xml's seed property is the seed the run was given (0 too): with
// none, the policy file's own seed was in force, and seed=0 would say
// otherwise.
func TestJUnitSeedOnlyWhenSet(t *testing.T) {
	for _, tt := range []struct {
		name    string
		seed    uint64
		seedSet bool
		want    string // "" for no seed property
	}{
		{"none", 0, false, ""},
		{"zero", 0, true, `<property name="seed" value="0">`},
		{"seven", 7, true, `<property name="seed" value="7">`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, raw := junitOf(t, &Summary{Lab: "l", Result: ResultPass, Seed: tt.seed, SeedSet: tt.seedSet})
			if got := strings.Contains(raw, `name="seed"`); got != (tt.want != "") || !strings.Contains(raw, tt.want) {
				t.Errorf("got junit.xml\n%s\nwant seed property %q", raw, tt.want)
			}
		})
	}
}

// The junit.xml of a lab that did not run (its file, its arguments) is
// written into a new or empty --out only: one that holds a run's files
// keeps its junit.xml, the verdict of that run.
func TestErrorJUnitLeavesANonEmptyDirAlone(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, write := range map[string]func(dir, file string, err error, now time.Time) error{
		"load": WriteLoadErrorJUnit, "args": WriteArgsErrorJUnit,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			junit := filepath.Join(dir, "junit.xml")
			if err := os.WriteFile(junit, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := write(dir, "x.yaml", errors.New("bad"), now)
			if err == nil || !strings.Contains(err.Error(), "is not empty") {
				t.Errorf("got %v, want the directory not empty", err)
			}
			if data, _ := os.ReadFile(junit); string(data) != "old" {
				t.Errorf("got junit.xml %q, want the old one, %q", data, "old")
			}
			fresh := filepath.Join(dir, "new")
			if err := write(fresh, "x.yaml", errors.New("bad"), now); err != nil {
				t.Fatalf("into a new directory: %v", err)
			}
			if doc := readJUnit(t, filepath.Join(fresh, "junit.xml")); doc.Errors != 1 || doc.Failures != 0 {
				t.Errorf("got %d errors, %d failures in a new directory's junit.xml, want 1 error", doc.Errors, doc.Failures)
			}
		})
	}
}

// What could not run is in error, as JUnit has it: an <error> element,
// counted in errors= of the suite and the document, not a failure. A lab
// file or arguments that could not be used, and a run whose hub could not
// run (result error), are; an interrupted run's case stays a failure. The
// XML is read with a schema of its own, so the element's name is checked,
// not the writer's struct.
func TestJUnitErrors(t *testing.T) {
	type result struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	}
	type doc struct {
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Cases    []struct {
				Name    string  `xml:"name,attr"`
				Failure *result `xml:"failure"`
				Error   *result `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fromFile := func(write func(dir, file string, err error, now time.Time) error) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			dir := filepath.Join(t.TempDir(), "out")
			if err := write(dir, "x.yaml", errors.New("x.yaml:3:4: bad"), now); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	ofSummary := func(s *Summary) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			_, raw := junitOf(t, s)
			return []byte(raw)
		}
	}
	for _, tt := range []struct {
		name    string
		xml     func(t *testing.T) []byte
		errored bool   // the case is in error, else failed
		want    string // the case's name
	}{
		{"lab-file", fromFile(WriteLoadErrorJUnit), true, "lab file"},
		{"arguments", fromFile(WriteArgsErrorJUnit), true, "arguments"},
		{"hub-error", ofSummary(&Summary{Lab: "l", Result: ResultError, Error: "hub: port a: bind: address already in use"}), true, "run"},
		{"interrupted", ofSummary(&Summary{Lab: "l", Result: ResultInterrupted}), false, "run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.xml(t)
			var d doc
			if err := xml.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			wantErrors, wantFailures := 0, 1
			if tt.errored {
				wantErrors, wantFailures = 1, 0
			}
			if len(d.Suites) != 1 || len(d.Suites[0].Cases) != 1 {
				t.Fatalf("got junit.xml\n%s\nwant one suite of one case", raw)
			}
			s, c := d.Suites[0], d.Suites[0].Cases[0]
			if d.Errors != wantErrors || s.Errors != wantErrors || d.Failures != wantFailures || s.Failures != wantFailures {
				t.Errorf("got errors=%d/%d failures=%d/%d (document/suite), want errors=%d failures=%d:\n%s", d.Errors, s.Errors, d.Failures, s.Failures, wantErrors, wantFailures, raw)
			}
			if c.Name != tt.want || (c.Error != nil) != tt.errored || (c.Failure != nil) == tt.errored {
				t.Errorf("got case %q with error %+v, failure %+v; want %q in error = %v:\n%s", c.Name, c.Error, c.Failure, tt.want, tt.errored, raw)
			}
		})
	}
}
