package replay

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

const (
	firstPolicy  = "seed: 7\nrules:\n  - {name: lossy, match: {link: a->b}, loss: 20%}\n"
	secondPolicy = "seed: 8\nrules:\n  - {name: lossy2, match: {link: a->b}, loss: 60%}\n"
)

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// setPolicyRun records, into dir/run.pcapng (and run-0001.pcapng), a live
// run under firstPolicy that replaces it with secondPolicy at 10ms, as
// serve's set-policy does (the new file's header names the policy and the
// time it took over), with an edit before the switch and one after.
func setPolicyRun(t *testing.T, dir string) (first, second *filter.Policy, files []string) {
	t.Helper()
	ports := []string{"a", "b"}
	first = mustPolicy(t, firstPolicy, ports)
	second, err := filter.Parse([]byte(secondPolicy), "p2.yaml", ports)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "run.pcapng")
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: first.Seed(), PolicyHash: first.Hash(), Extra: map[string]string{"mode": "hub"}}
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: first, Observers: []hub.Observer{sink}})
	src := hubtest.MAC("02:00:00:00:00:0a")
	send := func(at time.Duration, payload string) {
		sim.SendAt(at, "a", hubtest.Frame(hubtest.Broadcast, src, payload))
	}
	send(time.Millisecond, "one")
	sim.AdvanceTo(5 * time.Millisecond)
	sink.Annotate(filter.Edit{At: sim.Now(), Op: filter.EditLinkDown, Name: "b"}.Line())
	send(6*time.Millisecond, "two")
	sim.AdvanceTo(10 * time.Millisecond)
	sim.Core().SetPolicy(second)
	m2 := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: second.Seed(), PolicyHash: second.Hash(),
		Extra: map[string]string{"mode": "hub", "policy-name": "p2.yaml", "policy-since": sim.Now().String()}}
	if _, err := sink.SetMeta(m2); err != nil {
		t.Fatal(err)
	}
	send(12*time.Millisecond, "three")
	sim.AdvanceTo(15 * time.Millisecond)
	sink.Annotate(filter.Edit{At: sim.Now(), Op: filter.EditLinkUp, Name: "b"}.Line())
	send(16*time.Millisecond, "four")
	return first, second, endRun(t, sim, sink)
}

// A run that replaced its policy (ctl set-policy) replays under one
// policy throughout: the replay says plainly when the run changed policy
// and that what follows is a what-if, and marks the edits the run made
// under the other policy, whichever of the two it runs; the file the
// set-policy started, replayed alone, says its edits stamped before the
// switch were made under a policy no header records.
func TestJobSetPolicyRunIsAWhatIf(t *testing.T) {
	dir := t.TempDir()
	_, second, files := setPolicyRun(t, dir)
	if len(files) != 2 {
		t.Fatalf("the run wrote %v, want two files", files)
	}
	p1 := writeFile(t, dir, "p1.yaml", firstPolicy)
	p2 := writeFile(t, dir, "p2.yaml", secondPolicy)
	for _, tc := range []struct {
		name   string
		files  []string
		policy string
		note   string // a what-if note holding this; "" for none
		marked []bool // per edit, in order: marked what-if
	}{
		{"both-files-first-policy", files, p1,
			"run-0001.pcapng: the run replaced its policy at 10ms (p2.yaml, hash " + second.Hash() + "); this replay runs " + p1 + " (hash ",
			[]bool{false, true}},
		{"both-files-second-policy", files, p2,
			"run.pcapng: the policy (" + p2 + ", hash ", []bool{true, false}},
		{"second-file-its-policy", files[1:], p2, "", []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr []string
			j := Job{Files: tc.files, Policy: tc.policy, Notes: func(n string) { stderr = append(stderr, n) }}
			res, err := j.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			got := slices.IndexFunc(notes, func(n Note) bool { return n.Kind == NoteWhatIf && strings.Contains(n.Text, tc.note) })
			switch {
			case tc.note == "" && WhatIf(notes):
				t.Errorf("got what-if notes %q, want none", notes)
			case tc.note != "" && got < 0:
				t.Errorf("got notes %q, want a what-if note holding %q", notes, tc.note)
			case tc.note != "" && !slices.Contains(stderr, notes[got].Text):
				t.Errorf("the note %q is not on stderr (%q)", notes[got].Text, stderr)
			}
			var marked []bool
			for _, e := range res.Edits {
				marked = append(marked, e.WhatIf)
				if !e.Applied || e.WhatIf != (e.MadeUnder != "") || e.Input == "" {
					t.Errorf("edit %+v: want it applied, with its input, made_under set when what_if", e)
				}
			}
			if !slices.Equal(marked, tc.marked) {
				t.Errorf("got edits %v marked what-if %v, want %v", res.Edits, marked, tc.marked)
			}
		})
	}
}

// The file a set-policy started holds, in a capture written before the
// capture ended the old file's notes there, edits the run made under the
// old policy (stamped before policy-since): replayed with the new policy,
// they are marked as made under one no header records.
func TestReplayEditBeforePolicySince(t *testing.T) {
	var tl timeline
	tl.add(capHeader{"run-0001.pcapng", capture.FileMeta{Meta: capture.Meta{PolicyHash: "2222", Extra: map[string]string{"policy-since": "1.5s", "policy-name": "p2.yaml"}}}})
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{
		{time.Second, "the policy the run had before its set-policy at 1.5s, which no input's header records"},
		{2 * time.Second, ""},
	} {
		if got := tl.madeUnder(tc.at, []string{"2222"}); got != tc.want {
			t.Errorf("madeUnder(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
	tl.add(capHeader{"run.pcapng", capture.FileMeta{Meta: capture.Meta{PolicyHash: "1111"}}})
	if got, want := tl.madeUnder(time.Second, []string{"2222"}), "the run's first policy, hash 1111"; got != want {
		t.Errorf("with the first file's header, madeUnder(1s) = %q, want %q", got, want)
	}
}

// The hash replay shows for its policy is the one a capture header
// records for it, whether the run took the policy's own seed, was given
// it again with --seed, or was given another: the seed replay lends from
// the header changes the policy's text (a "# flags: --seed N" line) only
// when it is not the file's own. An equal policy is then no what-if.
func TestJobPolicyHashIsTheHeaders(t *testing.T) {
	dir := t.TempDir()
	p1 := writeFile(t, dir, "p1.yaml", firstPolicy)
	ports := []string{"a", "b"}
	runWith := func(args ...string) *filter.Policy { return servePolicy(t, p1, ports, args...) }
	for _, tc := range []struct {
		name string
		run  *filter.Policy // the policy as serve loaded it
	}{
		{"file-alone", runWith()},
		{"seed-flag-same-seed", runWith("-seed", "7")},
		{"seed-flag-other-seed", runWith("-seed", "9")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := oneFrameRun(t, hub.ModeHub, tc.run, capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: tc.run.Seed(), PolicyHash: tc.run.Hash()},
				hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
			out := filepath.Join(t.TempDir(), "out.pcapng")
			res, err := (&Job{Files: []string{in}, Policy: p1, Output: out}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.PolicyHash != tc.run.Hash() || res.Policy.Seed() != tc.run.Seed() {
				t.Errorf("got the replay's policy hash %s seed %d, want the header's %s seed %d", res.PolicyHash, res.Policy.Seed(), tc.run.Hash(), tc.run.Seed())
			}
			if WhatIf(res.Notes) {
				t.Errorf("got what-if notes %q replaying the run's own policy", res.Notes)
			}
			_, fm := capturetest.Section(t, out)
			if fm.PolicyHash != tc.run.Hash() {
				t.Errorf("the output's header records hash %s, want the input's %s", fm.PolicyHash, tc.run.Hash())
			}
		})
	}
}

// newFaultFlagSet is a flag set with serve's fault flags (--seed and the
// impairments) into f.
func newFaultFlagSet(f *filter.Flags) *flag.FlagSet {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.Register(fs)
	return fs
}

// faultFlags are serve's fault flags as args give them.
func faultFlags(t *testing.T, args ...string) filter.Flags {
	t.Helper()
	var f filter.Flags
	if err := newFaultFlagSet(&f).Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

// servePolicy is the policy serve loads from path for ports, with args
// as its fault flags.
func servePolicy(t *testing.T, path string, ports []string, args ...string) *filter.Policy {
	t.Helper()
	f := faultFlags(t, args...)
	p, err := f.Load(path, ports)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Giving replay --seed equal to the policy file's own seed changes the
// policy's text (a "# flags: --seed N" line) but not its decisions: it
// reproduces a run that took the file's seed, with or without --seed, and
// is no what-if; another seed is one.
func TestJobSeedFlagEqualToTheFilesIsNoWhatIf(t *testing.T) {
	dir := t.TempDir()
	p1 := writeFile(t, dir, "p1.yaml", firstPolicy) // seed: 7
	ports := []string{"a", "b"}
	for _, tc := range []struct {
		name       string
		run        []string // serve's flags
		replay     []string // replay's flags
		wantWhatIf bool
	}{
		{"run-file-alone-replay-same-seed", nil, []string{"-seed", "7"}, false},
		{"run-same-seed-replay-same-seed", []string{"-seed", "7"}, []string{"-seed", "7"}, false},
		{"run-same-seed-replay-file-alone", []string{"-seed", "7"}, nil, false},
		{"run-file-alone-replay-with-a-flag-and-same-seed", []string{"-loss", "b->a=10%"}, []string{"-loss", "b->a=10%", "-seed", "7"}, false},
		{"run-file-alone-replay-other-seed", nil, []string{"-seed", "9"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := servePolicy(t, p1, ports, tc.run...)
			in := oneFrameRun(t, hub.ModeHub, run, capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: run.Seed(), PolicyHash: run.Hash(), Extra: map[string]string{"mode": "hub"}},
				hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
			f := faultFlags(t, tc.replay...)
			res, err := (&Job{Files: []string{in}, Policy: p1, Faults: &f}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := WhatIf(res.Notes); got != tc.wantWhatIf {
				t.Errorf("got what-if %v (notes %q), want %v", got, res.Notes, tc.wantWhatIf)
			}
			if !tc.wantWhatIf && res.PolicyHash != run.Hash() {
				t.Errorf("got the replay's policy hash %s, want the header's %s", res.PolicyHash, run.Hash())
			}
		})
	}
}
