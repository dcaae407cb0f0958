package replay

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// rotatedSetPolicyRun records, into dir/run.pcapng and its parts, a live
// hub-mode run under firstPolicy whose capture rotates every 4 records,
// with a set-policy to secondPolicy at 10ms (which starts a part of its
// own) and a frame from a every millisecond to 20ms. It returns the files
// and the index of the set-policy's.
func rotatedSetPolicyRun(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	ports := []string{"a", "b"}
	first := mustPolicy(t, firstPolicy, ports)
	second := mustPolicy(t, secondPolicy, ports)
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: first.Seed(), PolicyHash: first.Hash(), Extra: map[string]string{"mode": "hub"}}
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta, RotatePackets: 4})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: first, Observers: []hub.Observer{sink}})
	src := hubtest.MAC("02:00:00:00:00:0a")
	for i := range 20 {
		at := time.Duration(i)*time.Millisecond + 500*time.Microsecond
		if at > 10*time.Millisecond && sim.Now() < 10*time.Millisecond {
			sim.AdvanceTo(10 * time.Millisecond)
			sim.Core().SetPolicy(second)
			m2 := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: second.Seed(), PolicyHash: second.Hash(),
				Extra: map[string]string{"mode": "hub", "policy-name": "p2.yaml", "policy-since": sim.Now().String()}}
			if _, err := sink.SetMeta(m2); err != nil {
				t.Fatal(err)
			}
		}
		sim.SendAt(at, "a", hubtest.Frame(hubtest.Broadcast, src, "frame "+string(rune('a'+i))))
	}
	files := endRun(t, sim, sink)
	k := slices.IndexFunc(files, func(f string) bool {
		_, fm := capturetest.Section(t, f)
		return fm.Extra["policy-since"] != ""
	})
	if k < 1 || k+2 > len(files) {
		t.Fatalf("the run wrote %v, set-policy's file %d; want parts before it and after it", files, k)
	}
	return files, k
}

// Inputs that do not hold the run from its start without gaps are a
// what-if, and the replay says so: a part a rotation started after a
// set-policy (hub mode: the policy's draws had run since the set-policy),
// and files left out in the middle. The set-policy's own file, and every
// file, are not.
func TestJobSaysInputsThatDoNotCoverTheRunAreAWhatIf(t *testing.T) {
	dir := t.TempDir()
	files, k := rotatedSetPolicyRun(t, dir)
	p1 := writeFile(t, dir, "p1.yaml", firstPolicy)
	p2 := writeFile(t, dir, "p2.yaml", secondPolicy)
	for _, tc := range []struct {
		name     string
		files    []string
		policies []string
		note     []string // what a what-if note on the file says; none for no note
		on       string
	}{
		{"every-file", files, []string{p1, p2}, nil, ""},
		{"the-set-policys-file-on", files[k:], []string{p2}, nil, ""},
		{"a-rotated-part-after-the-set-policy", files[k+1:], []string{p2}, []string{"starts mid-run", "a rotation after its set-policy at 10ms",
			"draws, rate queues and counters had run since its set-policy at 10ms", "from " + files[0] + " on"}, files[k+1]},
		{"the-middle-left-out", append([]string{files[0]}, files[k+1:]...), []string{p1, p2}, []string{"lack files of the run's capture before this one (" +
			filepath.Base(files[1]) + " to " + filepath.Base(files[k]) + ")"}, files[k+1]},
		{"one-file-left-out", slices.Delete(slices.Clone(files), 1, 2), []string{p1, p2}, []string{"(" + filepath.Base(files[1]) + ")"}, files[2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			res, err := (&Job{Files: tc.files, Policy: tc.policies[0], Policies: tc.policies[1:], Output: out, Points: "both"}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			i := slices.IndexFunc(notes, func(n Note) bool { return n.Kind == NoteWhatIf })
			switch {
			case tc.note == nil && i >= 0:
				t.Fatalf("got notes %q, want no what-if", notes)
			case tc.note == nil:
				return
			case i < 0:
				t.Fatalf("got notes %q, want a what-if on %s", notes, tc.on)
			}
			if notes[i].Input != tc.on {
				t.Errorf("got a what-if on %s, want on %s", notes[i].Input, tc.on)
			}
			for _, want := range tc.note {
				if !strings.Contains(notes[i].Text, want) {
					t.Errorf("got note %q, want it to say %q", notes[i].Text, want)
				}
			}
		})
	}
	// The note is no caution for its own sake: the rotated part replayed
	// alone decides otherwise than the run did.
	res, err := (&Job{Files: files[k+1:], Policy: p2, Output: filepath.Join(t.TempDir(), "out.pcapng"), Points: "both"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := sameRecords(t, files[k+1:], res.Files, capture.DirOut); n == 0 {
		t.Errorf("the rotated part replayed alone delivers all the run delivered: the scenario shows no difference")
	}
}

// coverageNotes judges each file sequence on its own: the segment's, or
// each port's of a per-port capture.
func TestCoverageNotesPerSequence(t *testing.T) {
	hdr := func(path, port string, part, metaPart int, since string) capHeader {
		fm := capture.FileMeta{Meta: capture.Meta{Start: hub.DefaultEpoch, PolicyHash: "1111", Extra: map[string]string{}}, Part: part, MetaPart: metaPart, Port: port}
		if since != "" {
			fm.PolicyHash = "2222"
			fm.Extra["policy-since"] = since
		}
		return capHeader{path, fm}
	}
	for _, tc := range []struct {
		name string
		hs   []capHeader
		want []string // per note, what it says; none for no note
	}{
		{"every-port-from-its-start", []capHeader{hdr("run-a.pcapng", "a", 0, 0, ""), hdr("run-b.pcapng", "b", 0, 0, ""),
			hdr("run-a-0001.pcapng", "a", 1, 1, "1s"), hdr("run-b-0001.pcapng", "b", 1, 1, "1s")}, nil},
		{"a-port-added-after-a-set-policy", []capHeader{hdr("run-a.pcapng", "a", 0, 0, ""), hdr("run-a-0001.pcapng", "a", 1, 1, "1s"),
			hdr("run-c.pcapng", "c", 0, 0, "1s")}, nil},
		{"a-port-from-a-rotation", []capHeader{hdr("run-a.pcapng", "a", 0, 0, ""), hdr("run-b-0002.pcapng", "b", 2, 1, "1s")},
			[]string{"run-b-0002.pcapng: this file starts mid-run (part 2 of the run's capture, a rotation after its set-policy at 1s, which began part 1)"}},
		{"a-port-with-a-gap", []capHeader{hdr("run-a.pcapng", "a", 0, 0, ""), hdr("run-b.pcapng", "b", 0, 0, ""),
			hdr("run-a-0001.pcapng", "a", 1, 1, "1s"), hdr("run-b-0002.pcapng", "b", 2, 1, "1s")},
			[]string{"run-b-0002.pcapng: the inputs lack files of port b's capture before this one (run-b-0001.pcapng)"}},
		// The same advice for every port of a per-port capture from a
		// rotation: said once, not once a port, naming each port's
		// first file.
		{"every-port-from-a-rotation", []capHeader{hdr("run-a-0002.pcapng", "a", 2, 0, ""), hdr("run-b-0002.pcapng", "b", 2, 0, ""),
			hdr("run-c-0002.pcapng", "c", 2, 0, "")}, []string{"run-a-0002.pcapng: this file starts mid-run"}},
		{"two-ports-from-a-rotation", []capHeader{hdr("run-a-0001.pcapng", "a", 1, 0, ""), hdr("run-b-0001.pcapng", "b", 1, 0, "")},
			[]string{"replay its files from each port's first (run-a.pcapng, run-b.pcapng) on"}},
		{"a-header-that-does-not-say", []capHeader{hdr("run-0002.pcapng", "", 2, -1, "1s")},
			[]string{"its header does not say whether its set-policy or a rotation after it began this file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes := coverageNotes(tc.hs, hub.ModeHub)
			if len(notes) != len(tc.want) {
				t.Fatalf("got notes %q, want %d", notes, len(tc.want))
			}
			for i, n := range notes {
				if n.Kind != NoteWhatIf || !strings.Contains(n.Text, tc.want[i]) {
					t.Errorf("got note %q, want a what-if saying %q", n, tc.want[i])
				}
			}
		})
	}
}
