package replay

import (
	"context"
	"slices"
	"strings"
	"testing"

	"l2hub/filter"
)

// A set-policy whose policy cannot be made again (it does not compile,
// or compiles to a text the header does not record) stops the replay
// there, with an error and a what-if note, rather than going on under
// the policy in force as if it were the run's.
func TestReplayStopsAtASetPolicyItCannotMake(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	ports := []string{"a", "b", "c"}
	first := mustPolicy(t, switchFirst, ports)
	second := mustPolicy(t, switchSecond, ports)
	for _, tc := range []struct {
		name string
		make func() (*filter.Policy, error)
		want string
	}{
		{"does-not-compile", func() (*filter.Policy, error) { return filter.Parse([]byte("rules: 3\n"), "q2.yaml", ports) }, "q2.yaml"},
		{"another-text", func() (*filter.Policy, error) { return filter.Parse([]byte(switchFirst), "q2.yaml", ports) }, "not the one the header records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ins []Input
			for _, f := range live {
				ins = append(ins, Input{Path: f})
			}
			r, err := Open(Config{Inputs: ins})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(context.Background(), RunConfig{Policy: mustPolicy(t, switchFirst, ports), PolicyHashes: []string{first.Hash()},
				Policies: []PolicyChoice{{Name: "q2.yaml", Hashes: []string{second.Hash()}, New: tc.make}}})
			if err == nil || !strings.Contains(err.Error(), "set-policy at 10ms") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one saying the set-policy at 10ms could not be made (%s)", err, tc.want)
			}
			if res == nil {
				t.Fatal("no result")
			}
			if len(res.Switches) != 1 || res.Switches[0].Err == "" {
				t.Errorf("got switches %+v, want one that failed", res.Switches)
			}
			if res.Replayed != 3 {
				t.Errorf("replayed %d frames, want the 3 before the set-policy", res.Replayed)
			}
			jr := &JobResult{Result: res}
			if !WhatIf(jr.Warnings()) {
				t.Errorf("got warnings %q, want a what-if", jr.Warnings())
			}
			var sum strings.Builder
			if err := res.WriteSummary(&sum); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(sum.String(), "(q2.yaml, from 10ms)") {
				t.Errorf("the summary names q2.yaml as the policy in force at the end:\n%s", sum.String())
			}
		})
	}
}

// A note that the run's policy is none of the replay's names the first
// with the flags given for it: q1.yaml with --seed 9 is not q1.yaml.
func TestJobNamesTheFlagsOfItsFirstPolicy(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	q1 := writeFile(t, dir, "q1.yaml", switchFirst)
	q2 := writeFile(t, dir, "q2.yaml", switchSecond)
	var f filter.Flags
	f.SetSeed(9)
	res, err := (&Job{Files: live, Policy: q1, Policies: []string{q2}, Faults: &f}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "none of this replay's policies (" + q1 + " with --seed 9, " + q2 + ")"
	if !slices.ContainsFunc(res.Notes, func(n Note) bool { return n.Kind == NoteWhatIf && strings.Contains(n.Text, want) }) {
		t.Errorf("got notes %q, want a what-if saying %q", res.Notes, want)
	}
}
