package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	pass := &Summary{Result: ResultPass}
	fail := &Summary{Result: ResultFail, Classification: &FailureSummary{Code: "SESSION_TIMEOUT"}}
	for _, tc := range []struct {
		name string
		runs []*Summary
		n    int
		want string // "" for nil
	}{
		{"all pass", []*Summary{pass, pass}, 2, ""},
		{"one run failed", []*Summary{fail}, 1, "lab failed: SESSION_TIMEOUT"},
		{"one run, an error", []*Summary{{Result: ResultError}}, 1, "lab error"},
		{"some of many failed", []*Summary{pass, fail, fail}, 3, "2 of 3 runs failed"},
		{"interrupted", []*Summary{pass}, 3, "interrupted after 1 of 3 runs"},
		{"interrupted during a run", []*Summary{pass, fail, {Result: ResultInterrupted}}, 4, "interrupted after 2 of 4 runs (1 failed)"},
		{"the last of all runs interrupted", []*Summary{pass, pass, {Result: ResultInterrupted}}, 3, "interrupted after 2 of 3 runs"},
		{"one run, interrupted", []*Summary{{Result: ResultInterrupted}}, 1, "lab interrupted"},
		{"a pass without its summary", []*Summary{{Result: ResultPass, Dir: "run", unwritten: []string{"summary.json"}}}, 1,
			"run/summary.json not written: the lab passed, but a pass whose verdict is not on disk for a CI system to read does not count as a pass"},
		{"passes without their files", []*Summary{pass, {Result: ResultPass, Dir: "s2", unwritten: []string{"junit.xml", "summary.json"}}}, 2,
			"s2/junit.xml and summary.json not written: the lab passed, but a pass whose verdict is not on disk for a CI system to read does not count as a pass"},
		{"a failure without its junit.xml", []*Summary{{Result: ResultFail, Dir: "run", unwritten: []string{"junit.xml"},
			Classification: &FailureSummary{Code: "SESSION_TIMEOUT"}}}, 1, "lab failed: SESSION_TIMEOUT; and run/junit.xml not written"},
	} {
		err := Verdict(tc.runs, tc.n)
		if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("%s: Verdict = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseVarFlags(t *testing.T) {
	got, err := ParseVars([]string{"GUEST=e2e/out/guest", "EMPTY=", "EQ=a=b"})
	if err != nil || len(got) != 3 || got["GUEST"] != "e2e/out/guest" || got["EMPTY"] != "" || got["EQ"] != "a=b" {
		t.Errorf("ParseVars = %v, %v", got, err)
	}
	for _, bad := range []string{"NOEQUALS", "=value"} {
		if _, err := ParseVars([]string{bad}); err == nil || !strings.Contains(err.Error(), "want NAME=VALUE") {
			t.Errorf("ParseVars(%q) = %v, want an error", bad, err)
		}
	}
}

func TestRerun(t *testing.T) {
	rerun := Rerun("labs/my lab.yaml", "session", 30*time.Second, []string{"GUEST=/tmp/g"})
	if got, want := rerun(8, true), "l2hub lab 'labs/my lab.yaml' --seed 8 --until session --soak 30s --var GUEST=/tmp/g"; got != want {
		t.Errorf("rerun = %q, want %q", got, want)
	}
	if got, want := Rerun("lab.yaml", "", 0, nil)(8, false), "l2hub lab lab.yaml"; got != want {
		t.Errorf("rerun without a seed = %q, want %q", got, want)
	}
}

// An interrupted run of --repeat is no failing seed: the table counts and
// lists to rerun only the runs that failed, and says which was interrupted.
func TestRepeatTableInterrupted(t *testing.T) {
	runs := []*Summary{
		{Seed: 1, Result: ResultPass},
		{Seed: 2, Result: ResultFail, Classification: &FailureSummary{Code: "BOOT_TIMEOUT"}, Rerun: "l2hub lab lab.yaml --seed 2"},
		{Seed: 3, Result: ResultInterrupted, Rerun: "l2hub lab lab.yaml --seed 3"},
	}
	var b strings.Builder
	WriteRepeatTable(&b, runs, false)
	out := b.String()
	if !strings.Contains(out, "\n1 of 2 runs failed\nseed 3: interrupted before its end (not counted)\nrerun a failing seed:\n  l2hub lab lab.yaml --seed 2\n") ||
		strings.Contains(out, "--seed 3") {
		t.Errorf("got\n%s\nwant 1 of 2 runs failed, seed 3 interrupted and not to rerun", out)
	}
	b.Reset()
	WriteRepeatTable(&b, runs[2:], false)
	if out := b.String(); !strings.Contains(out, "\n0 of 0 runs failed\nseed 3: interrupted") || strings.Contains(out, "rerun") {
		t.Errorf("got\n%s\nwant no failing seed, seed 3 interrupted", out)
	}
}

// --keep-failing on a single passing run empties its directory but its
// junit.xml, and says so only when junit.xml is there: one that could not
// be written (here a directory in its way) is said to be missing.
func TestEmptyPassed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		junit func(path string) error
		want  string
	}{
		{"junit-written", func(p string) error { return os.WriteFile(p, []byte("<testsuites/>"), 0o644) }, "emptied except junit.xml (--keep-failing)\n"},
		{"junit-not-written", func(p string) error { return os.Mkdir(p, 0o755) }, "emptied (--keep-failing); its junit.xml was not written\n"},
		{"junit-absent", func(string) error { return nil }, "emptied (--keep-failing); its junit.xml was not written\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "a.log"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tt.junit(filepath.Join(dir, "junit.xml")); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			emptyPassed(&out, dir)
			if want := "passed: run directory " + dir + " " + tt.want; out.String() != want {
				t.Errorf("got %q, want %q", out.String(), want)
			}
			if _, err := os.Stat(filepath.Join(dir, "a.log")); !os.IsNotExist(err) {
				t.Errorf("got a.log still there (%v), want it removed", err)
			}
		})
	}
}
