package replay

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// The policies of a switch-mode run that replaced its first with ctl
// set-policy (the audit's r7): the first delays a->c, the second cuts a
// from c and loses half of b->c.
const (
	switchFirst  = "seed: 1\nrules:\n  - {name: slow-a-c, match: {link: a->c}, delay: 5ms}\n"
	switchSecond = "seed: 3\npartitions:\n  - {name: split, groups: a|c, start: 0s}\nrules:\n  - {name: loss-b-c, match: {link: b->c}, loss: 50%}\n"
)

var (
	switchMACa = hubtest.MAC("02:00:00:00:00:0a")
	switchMACb = hubtest.MAC("02:00:00:00:00:0b")
)

// switchRun records, into dir/run.pcapng and run-0001.pcapng, a live
// switch-mode run as serve records it: a and b send a broadcast each (the
// switch learns them), a's frame at 8ms has its copy to c delayed to 13ms,
// and at 10ms a set-policy puts switchSecond in force (the new file's
// header says so). Then b sends a unicast to a, which the switch forwards
// to a alone, and 20 broadcasts, whose copies to c lose half.
func switchRun(t *testing.T, dir string) []string { return switchRunTo(t, dir, false) }

// switchRunTo is switchRun; with stream, the run captures to a stream (as
// serve --capture - does), where the set-policy starts a section, and
// the stream is kept in dir/run.pcapng.
func switchRunTo(t *testing.T, dir string, stream bool) []string {
	t.Helper()
	ports := []string{"a", "b", "c"}
	first := mustPolicy(t, switchFirst, ports)
	second, err := filter.Parse([]byte(switchSecond), "q2.yaml", ports)
	if err != nil {
		t.Fatal(err)
	}
	extra := func(kv ...string) map[string]string {
		m := map[string]string{"mode": "switch", "aging": hub.DefaultAgingTime.String()}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: first.Seed(), PolicyHash: first.Hash(), Extra: extra()}
	cfg := capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta}
	var buf bytes.Buffer
	if stream {
		cfg.Path = capture.Stdout
		cfg.Create = func(string) (io.WriteCloser, error) { return memFile{&buf}, nil }
	}
	sink, err := capture.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: ports, Policy: first, Observers: []hub.Observer{sink}})
	sim.SendAt(time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, switchMACa, "a hello"))
	sim.SendAt(2*time.Millisecond, "b", hubtest.Frame(hubtest.Broadcast, switchMACb, "b hello"))
	sim.SendAt(8*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, switchMACa, "a late to c"))
	sim.AdvanceTo(10 * time.Millisecond)
	sim.Core().SetPolicy(second)
	m2 := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: second.Seed(), PolicyHash: second.Hash(),
		Extra: extra("policy-name", "q2.yaml", "policy-since", sim.Now().String())}
	if _, err := sink.SetMeta(m2); err != nil {
		t.Fatal(err)
	}
	sim.SendAt(12*time.Millisecond, "b", hubtest.Frame(switchMACa, switchMACb, "b to a"))
	for i := range 20 {
		sim.SendAt(13*time.Millisecond+time.Duration(i)*time.Millisecond, "b", hubtest.Frame(hubtest.Broadcast, switchMACb, "b bcast "+string(rune('a'+i))))
	}
	endRun(t, sim, sink)
	if stream {
		return []string{writeFile(t, dir, "run.pcapng", buf.String())}
	}
	return sink.Files()
}

// record is a capture record as two runs that decided alike record it.
type record struct {
	Port    string
	Dir     capture.Dir
	Time    time.Time
	Data    []byte
	Comment string
}

// records reads files' records in order; with only, only those of
// direction only.
func records(t *testing.T, files []string, only ...capture.Dir) []record {
	t.Helper()
	var rs []record
	for _, f := range files {
		for _, p := range capturetest.Packets(t, f) {
			if len(only) == 0 || slices.Contains(only, p.Dir) {
				rs = append(rs, record{p.IfName, p.Dir, p.Time, p.Data, p.Comment})
			}
		}
	}
	return rs
}

// sameRecords reports the first few records that differ between a live
// run's files and a replay's (only those of direction only, if given),
// and how many differ.
func sameRecords(t *testing.T, live, replayed []string, only ...capture.Dir) int {
	t.Helper()
	l, r := records(t, live, only...), records(t, replayed, only...)
	diffs := 0
	for i := range max(len(l), len(r)) {
		var a, b record
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		if a.Port != b.Port || a.Dir != b.Dir || !a.Time.Equal(b.Time) || !bytes.Equal(a.Data, b.Data) || a.Comment != b.Comment {
			if diffs++; diffs <= 3 {
				t.Logf("record %d differs:\n live   %s %s %s %q %q\n replay %s %s %s %q %q", i+1,
					a.Port, a.Dir, a.Time.Sub(hub.DefaultEpoch), payload(a.Data), a.Comment, b.Port, b.Dir, b.Time.Sub(hub.DefaultEpoch), payload(b.Data), b.Comment)
			}
		}
	}
	return diffs
}

// payload is a frame's bytes after its Ethernet header (none for a record
// one run lacks).
func payload(data []byte) []byte {
	if len(data) < 14 {
		return nil
	}
	return bytes.TrimRight(data[14:], "\x00")
}

// Replaying a switch-mode run's files in order, each with the policy its
// header records (--policy for each, in either order), reproduces every
// record the run wrote: the set-policy is made again at its run time on
// the same core, so the MACs it had learned are still learned and the
// copy waiting in its timers meets the new policy's partition, and the
// output starts a file for the new policy as the live capture did. Given
// the second policy alone, the replay of both files runs the first part
// under it, a what-if it says, yet every decision after the set-policy is
// the run's again (the copies the first policy delayed past it are not).
func TestJobReplaysEachPolicyWhereTheRunHadIt(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	if len(live) != 2 {
		t.Fatalf("the run wrote %v, want two files", live)
	}
	q1 := writeFile(t, dir, "q1.yaml", switchFirst)
	q2 := writeFile(t, dir, "q2.yaml", switchSecond)
	liveSecond := records(t, live[1:])
	if !slices.ContainsFunc(liveSecond, func(r record) bool { return strings.Contains(r.Comment, "rule loss-b-c: drop") }) ||
		!slices.ContainsFunc(liveSecond, func(r record) bool { return strings.Contains(r.Comment, "partition (a|c)") }) {
		t.Fatalf("the run's second file records no loss-b-c drop or no partition: %v", liveSecond)
	}
	for _, tc := range []struct {
		name     string
		policies []string
	}{
		{"in-order", []string{q1, q2}},
		{"reversed", []string{q2, q1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			var stderr []string
			j := Job{Files: live, Policy: tc.policies[0], Policies: tc.policies[1:], Output: out, Points: "both",
				Notes: func(n string) { stderr = append(stderr, n) }}
			res, err := j.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if notes := append(slices.Clone(res.Notes), res.Warnings()...); len(notes) > 0 {
				t.Errorf("got notes %q, want none: the replay is the run's", notes)
			}
			if len(res.Switches) != 1 || res.Switches[0].Since != 10*time.Millisecond || res.Switches[0].Policy != q2 || res.Switches[0].Err != "" {
				t.Errorf("got switches %+v, want one to %s at 10ms", res.Switches, q2)
			}
			if len(res.Files) != 2 {
				t.Fatalf("the replay wrote %v, want two files, as the run", res.Files)
			}
			if n := sameRecords(t, live, res.Files); n > 0 {
				t.Errorf("%d records differ from the run's", n)
			}
			_, fm := capturetest.Section(t, res.Files[1])
			if fm.PolicyHash != mustPolicy(t, switchSecond, nil).Hash() || fm.Extra["policy-since"] != "10ms" {
				t.Errorf("the output's second file's header %+v, want the second policy's hash, since 10ms", fm)
			}
		})
	}
	t.Run("second-policy-alone", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.pcapng")
		res, err := (&Job{Files: live, Policy: q2, Output: out, Points: "both"}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !WhatIf(res.Notes) {
			t.Errorf("got notes %q, want a what-if for the first file", res.Notes)
		}
		if n := sameRecords(t, live[1:], res.Files[1:], capture.DirIn); n > 0 {
			t.Errorf("%d decisions after the set-policy differ from the run's", n)
		}
	})
}

// --policy repeats: the first is the job's Policy (the fault flags apply
// to it), the others its Policies, in order.
func TestJobFlagsRepeatedPolicy(t *testing.T) {
	var f JobFlags
	fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--policy", "p1.yaml", "--seed", "9", "--policy", "p2.yaml", "--policy", "p3.yaml"}); err != nil {
		t.Fatal(err)
	}
	j, err := f.Resolve([]string{"run.pcapng", "run-0001.pcapng"})
	if err != nil {
		t.Fatal(err)
	}
	if j.Policy != "p1.yaml" || !slices.Equal(j.Policies, []string{"p2.yaml", "p3.yaml"}) || !j.Faults.SeedGiven() {
		t.Errorf("got Policy %q, Policies %q, seed given %v; want p1.yaml, [p2.yaml p3.yaml], true", j.Policy, j.Policies, j.Faults.SeedGiven())
	}
}

// The file a set-policy started, replayed alone with its policy (given
// alone or after the run's first), starts with that policy in force, as
// the file did: the replay writes one file, whose header says when the
// policy took over, rather than an empty one under another policy first.
func TestJobReplayOfTheSetPolicysFileStartsWithItsPolicy(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	q1 := writeFile(t, dir, "q1.yaml", switchFirst)
	q2 := writeFile(t, dir, "q2.yaml", switchSecond)
	for _, tc := range []struct {
		name     string
		policies []string
	}{
		{"its-policy", []string{q2}},
		{"both-policies", []string{q1, q2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			res, err := (&Job{Files: live[1:], Policy: tc.policies[0], Policies: tc.policies[1:], Output: out}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			first := "none"
			if res.Policy != nil {
				first = res.Policy.Name()
			}
			if len(res.Files) != 1 || len(res.Switches) != 0 || first != q2 {
				t.Fatalf("got files %v, switches %+v, first policy %s; want one file, no switch, %s from the start", res.Files, res.Switches, first, q2)
			}
			_, fm := capturetest.Section(t, res.Files[0])
			if fm.PolicyHash != mustPolicy(t, switchSecond, nil).Hash() || fm.Extra["policy-since"] != "10ms" || fm.Extra["policy-name"] != q2 {
				t.Errorf("the output's header %+v, want the second policy's hash, since 10ms, named %s", fm, q2)
			}
		})
	}
}

// A file the hub began mid-run, replayed without the files before it, is
// no reproduction, and the replay says so, with how to reproduce the run:
// in switch mode the live hub had learned MACs the replay has not (the
// unicast to a floods to c, and takes a draw there); after a rotation,
// the policy's draws had run. With the files from the run's start there
// is no such note (TestJobReplaysEachPolicyWhereTheRunHadIt), nor for a
// set-policy's file in hub mode (TestJobSetPolicyRunIsAWhatIf).
func TestJobSaysAFileBegunMidRunIsAWhatIf(t *testing.T) {
	t.Run("switch-mode-set-policy", func(t *testing.T) {
		dir := t.TempDir()
		live := switchRun(t, dir)
		q2 := writeFile(t, dir, "q2.yaml", switchSecond)
		out := filepath.Join(t.TempDir(), "out.pcapng")
		res, err := (&Job{Files: live[1:], Policy: q2, Output: out}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(res.Notes, func(n Note) bool { return n.Kind == NoteWhatIf && n.Input == live[1] })
		if i < 0 {
			t.Fatalf("got notes %q, want a what-if note on %s", res.Notes, live[1])
		}
		for _, want := range []string{"after its set-policy at 10ms", "may flood", "from " + live[0] + " on", "--policy FIRST.yaml --policy q2.yaml"} {
			if !strings.Contains(res.Notes[i].Text, want) {
				t.Errorf("got note %q, want it to say %q", res.Notes[i].Text, want)
			}
		}
		if n := sameRecords(t, live[1:], res.Files, capture.DirIn); n == 0 {
			t.Errorf("the replay's decisions are all the run's: the scenario shows no flooding")
		}
	})
	t.Run("hub-mode-rotated-part", func(t *testing.T) {
		dir := t.TempDir()
		ports := []string{"a", "b"}
		pol := mustPolicy(t, firstPolicy, ports)
		meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash(), Extra: map[string]string{"mode": "hub"}}
		sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta, RotatePackets: 4})
		if err != nil {
			t.Fatal(err)
		}
		sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
		for i := range 8 {
			sim.SendAt(time.Duration(i)*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, switchMACa, "a"))
		}
		files := endRun(t, sim, sink)
		p1 := writeFile(t, dir, "p1.yaml", firstPolicy)
		for _, tc := range []struct {
			files []string
			note  bool
		}{{files, false}, {files[1:], true}} {
			res, err := (&Job{Files: tc.files, Policy: p1}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := slices.ContainsFunc(res.Notes, func(n Note) bool {
				return n.Kind == NoteWhatIf && strings.Contains(n.Text, "draws, rate queues and counters had run") && strings.Contains(n.Text, "from "+files[0]+" on")
			})
			if got != tc.note {
				t.Errorf("replaying %v: got notes %q, want a note on the policy's draws: %v", tc.files, res.Notes, tc.note)
			}
		}
	})
}

// A run captured to a stream holds its set-policy as a new section of
// the one file: replayed with both policies, every record is the run's,
// and the replay's output, a file, starts a new file at the switch.
func TestJobReplaysASetPolicyInAStream(t *testing.T) {
	dir := t.TempDir()
	live := switchRunTo(t, dir, true)
	q1 := writeFile(t, dir, "q1.yaml", switchFirst)
	q2 := writeFile(t, dir, "q2.yaml", switchSecond)
	res, err := (&Job{Files: live, Policy: q1, Policies: []string{q2}, Output: filepath.Join(t.TempDir(), "out.pcapng")}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if notes := append(slices.Clone(res.Notes), res.Warnings()...); len(notes) > 0 {
		t.Errorf("got notes %q, want none", notes)
	}
	if len(res.Switches) != 1 || len(res.Files) != 2 {
		t.Fatalf("got switches %+v, files %v; want one switch, two files", res.Switches, res.Files)
	}
	if n := sameRecords(t, live, res.Files); n > 0 {
		t.Errorf("%d records differ from the run's", n)
	}
}

// An edit made after a stream section's last frame and before the
// set-policy that ends the section is in that section's trailer: the
// replay makes it there, at its time, on the policy it was made on, and
// not at the end of the stream on the policy then in force (where the
// link it takes down would drop the copies still waiting at the end).
func TestJobMakesAStreamSectionsTrailerBeforeItsSetPolicy(t *testing.T) {
	const (
		slow   = "seed: 1\nrules:\n  - {name: slow, match: {link: a->b}, delay: 2ms}\n"
		slower = "seed: 2\nrules:\n  - {name: slower, match: {link: a->b}, delay: 5ms}\n"
	)
	dir := t.TempDir()
	ports := []string{"a", "b"}
	first := mustPolicy(t, slow, ports)
	second := mustPolicy(t, slower, ports)
	var buf bytes.Buffer
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: first.Seed(), PolicyHash: first.Hash(), Extra: map[string]string{"mode": "hub"}}
	sink, err := capture.Open(capture.Config{Path: capture.Stdout, Overflow: capture.OverflowBlock, Meta: meta,
		Create: func(string) (io.WriteCloser, error) { return memFile{&buf}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: first, Observers: []hub.Observer{sink}})
	src := hubtest.MAC("02:00:00:00:00:0a")
	sim.SendAt(time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, src, "one")) // delivered at 3ms
	sim.AdvanceTo(4 * time.Millisecond)
	down := filter.Edit{At: sim.Now(), Op: filter.EditLinkDown, Name: "b"}
	d, err := down.Apply(first, down.At)
	if err != nil {
		t.Fatal(err)
	}
	sink.Annotate(down.Comment(d))
	sim.AdvanceTo(5 * time.Millisecond)
	sim.Core().SetPolicy(second) // a policy of its own: b's link is up again
	m2 := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: second.Seed(), PolicyHash: second.Hash(),
		Extra: map[string]string{"mode": "hub", "policy-name": "s2.yaml", "policy-since": sim.Now().String()}}
	if _, err := sink.SetMeta(m2); err != nil {
		t.Fatal(err)
	}
	sim.SendAt(6*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, src, "two"))   // delivered at 11ms
	sim.SendAt(7*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, src, "three")) // delivered at 12ms
	endRun(t, sim, sink)
	live := []string{writeFile(t, dir, "run.pcapng", buf.String())}
	if got := len(records(t, live, capture.DirOut)); got != 3 {
		t.Fatalf("the run delivered %d frames to b, want 3", got)
	}

	s1 := writeFile(t, dir, "s1.yaml", slow)
	s2 := writeFile(t, dir, "s2.yaml", slower)
	res, err := (&Job{Files: live, Policy: s1, Policies: []string{s2}, Output: filepath.Join(t.TempDir(), "out.pcapng")}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if notes := append(slices.Clone(res.Notes), res.Warnings()...); len(notes) > 0 {
		t.Errorf("got notes %q, want none", notes)
	}
	if len(res.Edits) != 1 || !res.Edits[0].Applied || res.Edits[0].MadeUnder != "" || len(res.Switches) != 1 {
		t.Fatalf("got edits %+v, switches %+v; want the link-down made, then one switch", res.Edits, res.Switches)
	}
	if n := sameRecords(t, live, res.Files); n > 0 {
		t.Errorf("%d records differ from the run's", n)
	}
}

// TestJobOutputToAnotherNameOfStdout: -o naming the file standard output
// is (/dev/stdout redirected to a file, here the file's own name) is the
// stream -o - is: a set-policy starts a section in it, and no numbered
// file is made beside it. Not parallel: it replaces os.Stdout.
func TestJobOutputToAnotherNameOfStdout(t *testing.T) {
	dir := t.TempDir()
	live := switchRun(t, dir)
	q1 := writeFile(t, dir, "q1.yaml", switchFirst)
	q2 := writeFile(t, dir, "q2.yaml", switchSecond)
	outDir := t.TempDir()
	stdout, err := os.Create(filepath.Join(outDir, "stdout.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	saved := os.Stdout
	os.Stdout = stdout
	res, err := (&Job{Files: live, Policy: q1, Policies: []string{q2}, Output: stdout.Name()}).Run(context.Background())
	os.Stdout = saved
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Switches) != 1 {
		t.Fatalf("got switches %+v, want one", res.Switches)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the replay made %v, want stdout.pcapng alone", names)
	}
	if n := sameRecords(t, live, []string{stdout.Name()}); n > 0 {
		t.Errorf("%d records in standard output differ from the run's", n)
	}
}

// TestJobFlagsRun: replay's flags parsed and run: the summary on stdout
// (--json: a document), the what-if note on stderr, the output written
// with the version given; a bad --progress is refused before anything is
// read or written.
func TestJobFlagsRun(t *testing.T) {
	run := func(args ...string) (stdout, stderr string, err error) {
		f := JobFlags{Job: Job{Version: "v-test"}}
		fs := pflag.NewFlagSet("replay", pflag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err = f.Run(context.Background(), fs.Args(), &out, &errs)
		return out.String(), errs.String(), err
	}
	out := filepath.Join(t.TempDir(), "out.pcapng")
	stdout, stderr, err := run("--json", "--progress", "never", "-o", out, filepath.Join("testdata", "l2hub-capture.pcapng"))
	if err != nil || !strings.HasPrefix(stdout, "{\n  \"schema\": ") || !strings.Contains(stderr, "l2hub replay: ") {
		t.Errorf("got Run() = %v, stdout %.40q, stderr %q, want nil, a JSON document and the notes", err, stdout, stderr)
	}
	if data, err := os.ReadFile(out); err != nil || !bytes.Contains(data, []byte("v-test")) {
		t.Errorf("got output %v, want one that records version v-test", err)
	}
	// No ProgressClock: no bar, even asked for one (it panicked).
	stdout, stderr, err = run("--progress", "always", "-o", filepath.Join(t.TempDir(), "always.pcapng"), filepath.Join("testdata", "l2hub-capture.pcapng"))
	if err != nil || stdout == "" || strings.Contains(stderr, "\r") {
		t.Errorf("got Run() = %v, stdout %.40q, stderr %q with --progress always and no clock, want nil, the summary and no bar", err, stdout, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.pcapng")
	stdout, stderr, err = run("--progress", "sometimes", "-o", bad, filepath.Join("testdata", "l2hub-capture.pcapng"))
	if err == nil || !strings.Contains(err.Error(), "sometimes") || stdout != "" || stderr != "" {
		t.Errorf("got Run() = %v, stdout %q, stderr %q, want an error naming the mode and nothing else", err, stdout, stderr)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("a refused run wrote %s", bad)
	}
}
