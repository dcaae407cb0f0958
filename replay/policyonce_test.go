package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// pipePath returns a path that reads data once, as <(cat p.yaml) does: a
// pipe's /dev/fd entry, which gives nothing when opened again after its
// data was read. It skips where the system has no /dev/fd.
func pipePath(t *testing.T, data string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := w.WriteString(data); err != nil { // a policy fits the pipe's buffer
		t.Fatal(err)
	}
	w.Close()
	path := fmt.Sprintf("/dev/fd/%d", r.Fd())
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no /dev/fd to name a pipe by: %v", err)
	}
	return path
}

// Each --policy is read once, at the start: a switch compiles its policy
// from the text kept, so policies given as pipes (<(…), /dev/stdin)
// reproduce the run as files do, rather than a switch reading the pipe
// again, finding it empty and putting in force a policy with no rules.
func TestJobReadsEachPolicyOnce(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	q1, q2 := pipePath(t, switchFirst), pipePath(t, switchSecond)
	res, err := (&Job{Files: live, Policy: q1, Policies: []string{q2}, Output: filepath.Join(t.TempDir(), "out.pcapng"), Points: "both"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if notes := append(slices.Clone(res.Notes), res.Warnings()...); len(notes) > 0 {
		t.Errorf("got notes %q, want none: the replay is the run's", notes)
	}
	want := mustPolicy(t, switchSecond, nil)
	if len(res.Switches) != 1 || res.Switches[0].Err != "" || res.Switches[0].Seed != want.Seed() {
		t.Errorf("got switches %+v, want one to %s, seed %d", res.Switches, q2, want.Seed())
	}
	if n := sameRecords(t, live, res.Files); n > 0 {
		t.Errorf("%d records differ from the run's", n)
	}
}
