package report

import (
	"errors"
	"testing"

	"l2hub/conformance/checker"
)

// TestCheckReadsTheWholeCapture: the checker, which reads the capture as
// the report does, still judges all of it when the report draws only its
// first frames (Limits.MaxFrames), and a report that fails part-way does
// not wait for it.
func TestCheckReadsTheWholeCapture(t *testing.T) {
	want, err := checker.CheckFiles(checker.Options{Profile: checker.ProfileNexus}, failingRun)
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, Options{Capture: failingRun, Check: "nexus-v1", Limits: Limits{MaxFrames: 10}})
	if m.Records != 10 || m.Check == nil || m.Check.Fail != want.Fail || m.Check.Pass != want.Pass || m.Check.Error != "" || len(m.Findings) != len(want.Findings) {
		t.Errorf("got %d records drawn and the check %+v with %d findings, want 10 and the whole capture's (%d fail, %d pass, %d findings)",
			m.Records, m.Check, len(m.Findings), want.Fail, want.Pass, len(want.Findings))
	}
	if _, err := Build(Options{Capture: failingRun, Check: "nexus-v1", Limits: Limits{MaxPorts: 1}}); !errors.Is(err, ErrTooManyPorts) {
		t.Errorf("got Build with MaxPorts 1 = %v, want %v", err, ErrTooManyPorts)
	}
}
