package lab

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
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
	var b bytes.Buffer
	if err := s.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
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
