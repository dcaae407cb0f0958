package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// liveStart is the live hub's start in the described-port tests: not
// hub.DefaultEpoch, which a replay that missed the header would show.
var liveStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// describedCapture records a live hub of ports a and b into memory: run
// plays it (frames, ports added, SetMeta), then the capture is closed.
func describedCapture(t *testing.T, meta capture.Meta, run func(sim *hubtest.Sim, sink *capture.Sink)) []byte {
	t.Helper()
	var buf bytes.Buffer
	meta.Version, meta.Start = "test", liveStart
	sink := liveSink(t, &buf, meta)
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	run(sim, sink)
	endRun(t, sim, sink)
	return buf.Bytes()
}

// newPolicyMeta is the header a set-policy starts the next file (or, in a
// stream, section) with.
func newPolicyMeta(t *testing.T, sink *capture.Sink) {
	t.Helper()
	if _, err := sink.SetMeta(capture.Meta{Version: "test", Start: liveStart, Seed: 3, PolicyHash: "beef"}); err != nil {
		t.Fatal(err)
	}
}

// An l2hub capture's ports are the interfaces it describes and its start
// is its header's, frames or not: a run interrupted before its first
// frame, the file a set-policy started, a port that never sent.
func TestReplayCountsEveryDescribedPort(t *testing.T) {
	frame := func(sim *hubtest.Sim) {
		sim.Send("a", hubtest.Frame(hubtest.MAC("02:00:00:00:00:0b"), hubtest.MAC("02:00:00:00:00:0a"), "one"))
	}
	for _, tc := range []struct {
		name       string
		run        func(t *testing.T, sim *hubtest.Sim, sink *capture.Sink)
		open, runs []string // the ports Open knows, and the ports of the result
	}{
		{"no-frames", func(t *testing.T, sim *hubtest.Sim, sink *capture.Sink) {}, []string{"a", "b"}, []string{"a", "b"}},
		{"a-frameless-section-then-frames", func(t *testing.T, sim *hubtest.Sim, sink *capture.Sink) {
			sim.AddPort(t, "c")
			newPolicyMeta(t, sink)
			frame(sim)
		}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"a-port-after-the-last-frame", func(t *testing.T, sim *hubtest.Sim, sink *capture.Sink) {
			frame(sim)
			sim.AddPort(t, "c")
		}, []string{"a", "b"}, []string{"a", "b", "c"}},
		{"a-frameless-last-section", func(t *testing.T, sim *hubtest.Sim, sink *capture.Sink) {
			frame(sim)
			newPolicyMeta(t, sink)
			sim.AddPort(t, "c")
		}, []string{"a", "b"}, []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := describedCapture(t, capture.Meta{Seed: 9}, func(sim *hubtest.Sim, sink *capture.Sink) { tc.run(t, sim, sink) })
			r, err := Open(Config{Inputs: []Input{memInput("live.pcapng", data)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Ports(); !slices.Equal(got, tc.open) {
				t.Errorf("got Ports() = %v, want %v", got, tc.open)
			}
			if got := r.Start(); !got.Equal(liveStart) {
				t.Errorf("got Start() = %v, want the header's %v", got, liveStart)
			}
			if m, ok := r.Meta(); !ok || m.Seed != 9 {
				t.Errorf("got Meta() = %+v, %v; want the first header's (seed 9)", m, ok)
			}
			res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeSwitch})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Ports {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tc.runs) {
				t.Errorf("got the result's ports %v, want %v", got, tc.runs)
			}
		})
	}
}

// A replay without the policy a capture header names is a what-if, and
// says so, whichever header names it: a frameless file's (the one a
// set-policy started, given after the run's first file), or a section's
// after the first frame (a streamed capture's set-policy).
func TestJobNotesEveryHeadersPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	frame := func(sim *hubtest.Sim) {
		sim.Send("a", hubtest.Frame(hubtest.MAC("02:00:00:00:00:0b"), hubtest.MAC("02:00:00:00:00:0a"), "one"))
	}
	run := write("run.pcapng", describedCapture(t, capture.Meta{}, func(sim *hubtest.Sim, _ *capture.Sink) { frame(sim) }))
	run1 := write("run-0001.pcapng", describedCapture(t, capture.Meta{Seed: 3, PolicyHash: "beef"}, func(*hubtest.Sim, *capture.Sink) {}))
	stream := write("stream.pcapng", describedCapture(t, capture.Meta{}, func(sim *hubtest.Sim, sink *capture.Sink) {
		frame(sim)
		newPolicyMeta(t, sink)
		frame(sim)
	}))
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"a-frameless-file", []string{run, run1}, run1 + ": the capture's run had a policy (hash beef, seed 3); this replay has none"},
		{"a-later-section", []string{stream}, "the capture's run had a policy (hash beef, seed 3); this replay has none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var notes []string
			j := Job{Files: tc.files, Notes: func(n string) { notes = append(notes, n) }}
			if _, err := j.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, tc.want) }) {
				t.Errorf("got notes %q, want one saying %q", notes, tc.want)
			}
		})
	}
}
