package replay

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// delayPolicy holds a->b's frames for 20ms.
const delayPolicy = "seed: 1\nrules:\n  - {name: slow, match: {link: a->b}, delay: 20ms}\n"

// stoppedWithDelays records a live hub stopped, as serve stops it, while
// its delay rule holds frames: ten frames a->b, one a millisecond, and a
// stop at 25ms, when the last four (due at 26 to 29ms) are still held and
// discarded (hub.Core.Close). The capture's Close writes the hub's
// counters into its last statistics, as serve's does. It returns the
// capture, the live counters and how many frames the hub discarded.
func stoppedWithDelays(t *testing.T) (data []byte, live map[string]hub.StatsSnapshot, discarded int) {
	t.Helper()
	ports := []string{"a", "b"}
	pol := mustPolicy(t, delayPolicy, ports)
	var buf bytes.Buffer
	sink := liveSink(t, &buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash()})
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
	for _, p := range ports {
		sink.SetPortStats(p, sim.Stats(p))
	}
	for i := range 10 {
		sim.SendAt(time.Duration(i)*time.Millisecond, "a", hubtest.Frame(macB, macA, "held "+string(rune('0'+i))))
	}
	sim.AdvanceTo(25 * time.Millisecond)
	discarded, _ = sim.Core().Delayed()
	sim.Core().Close() // the hub stops
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	live = map[string]hub.StatsSnapshot{}
	for _, p := range ports {
		live[p] = sim.Stats(p).Snapshot()
	}
	return buf.Bytes(), live, discarded
}

// TestReplayEndsWhereTheRunStopped: a live hub that stops discards the
// delayed copies its timers still hold, and its capture records the stop
// (the statistics its Close writes carry the hub's counters); the replay
// ends there too and discards them, with a note, so that its counters are
// the live run's. --drain delivers them, and the counters then differ
// from the live ones, which a warning says.
func TestReplayEndsWhereTheRunStopped(t *testing.T) {
	data, live, discarded := stoppedWithDelays(t)
	if discarded != 4 {
		t.Fatalf("the live hub held %d frames at its stop, want 4", discarded)
	}
	dir := t.TempDir()
	in := writeFile(t, dir, "run.pcapng", string(data))
	policy := writeFile(t, dir, "p.yaml", delayPolicy)
	for _, drain := range []bool{false, true} {
		res, err := (&Job{Files: []string{in}, Policy: policy, Drain: drain}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := portStats(res.Result)
		notes := append(slices.Clone(res.Notes), res.Warnings()...)
		ended := slices.ContainsFunc(notes, func(n Note) bool {
			return n.Kind == NoteEnd && strings.Contains(n.Text, "4 delayed copies were still held")
		})
		differs := slices.ContainsFunc(notes, func(n Note) bool {
			return n.Kind == NoteWhatIf && strings.Contains(n.Text, "port b: tx 10, live 6")
		})
		if !drain {
			if got["b"].TxFrames != live["b"].TxFrames || got["a"].RxFrames != live["a"].RxFrames {
				t.Errorf("got a rx %d, b tx %d, want the live run's: %d and %d", got["a"].RxFrames, got["b"].TxFrames, live["a"].RxFrames, live["b"].TxFrames)
			}
			if res.Discarded != 4 || !ended || differs || WhatIf(notes) {
				t.Errorf("got %d discarded and notes %q, want 4 and a note on them alone", res.Discarded, notes)
			}
			if want := hub.DefaultEpoch.Add(25 * time.Millisecond); !res.End.Equal(want) {
				t.Errorf("the replay ended at %s, want %s, the live hub's last delivery", res.End, want)
			}
			continue
		}
		if got["b"].TxFrames != 10 || res.Discarded != 0 || ended || !differs || !WhatIf(notes) {
			t.Errorf("--drain: got b tx %d, %d discarded, notes %q; want 10, none, and a warning that the counters differ from the live ones", got["b"].TxFrames, res.Discarded, notes)
		}
		for _, p := range res.Ports {
			if p.Live == nil || p.Live.TxFrames != live[p.Name].TxFrames {
				t.Errorf("port %s: got live counters %+v, want tx %d", p.Name, p.Live, live[p.Name].TxFrames)
			}
		}
	}
}

// TestReplayLiveCountersOfDropsBeforeTheHub: a live hub's counters also
// count the frames it dropped before its decisions (a runt, a datagram
// from a stranger, a kernel queue's overflow), which its capture never
// sees: a faithful replay does not have them, and is not a what-if for
// that; a policy drop it does not make again is one. Nor is a port-down
// a transport counted after the hub queued the copy (a unixgram VM that
// binds its socket late), which the capture records as sent: the
// counters cannot tell it from the hub's own. A port whose live queue
// dropped copies (queue-full), which a replay without queues sends, is
// compared on tx plus those drops, and a note names them.
func TestReplayLiveCountersOfDropsBeforeTheHub(t *testing.T) {
	const lossy = "seed: 1\nrules:\n  - {name: lossy, match: {link: a->b}, loss: 50%}\n"
	for _, tc := range []struct {
		name   string
		unseen []hub.DropReason // counted on port a, and not in the capture
		// late: port-down drops b's transport counts after the hub
		// queued the copies; queue: b's VM reads nothing, and its queue
		// of 2 drops the rest (queue-full).
		late   int
		queue  bool
		whatIf bool
	}{
		{"unseen-drops", []hub.DropReason{hub.DropRunt, hub.DropForeign, hub.DropKernel, hub.DropEncap}, 0, false, false},
		{"policy-drop-not-replayed", []hub.DropReason{hub.DropRunt, hub.DropPolicy}, 0, false, true},
		{"port-down-after-queueing", nil, 3, false, false},
		{"queue-full", nil, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := []string{"a", "b"}
			pol := mustPolicy(t, lossy, ports)
			var buf bytes.Buffer
			sink := liveSink(t, &buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash()})
			hc := hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}}
			if tc.queue {
				hc.QueueLen, hc.Overflow = 2, hub.OverflowDrop
			}
			sim := hubtest.New(t, hc)
			for _, p := range ports {
				sink.SetPortStats(p, sim.Stats(p))
			}
			if tc.queue {
				sim.SetReading("b", false)
			}
			for i := range 20 {
				sim.SendAt(time.Duration(i)*time.Millisecond, "a", hubtest.Frame(macB, macA, "frame "+string(rune('a'+i))))
			}
			sim.AdvanceTo(20 * time.Millisecond)
			if tc.queue {
				if st := sim.Stats("b").Snapshot(); st.Drops[hub.DropQueueFull.String()] == 0 {
					t.Fatalf("port b: got %+v, want queue-full drops", st)
				}
			} else {
				sim.Drain()
			}
			for _, r := range tc.unseen {
				sim.Stats("a").Drop(r)
			}
			for range tc.late {
				sim.Stats("b").Drop(hub.DropDown)
			}
			sim.Core().Close()
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := writeFile(t, dir, "run.pcapng", buf.String())
			res, err := (&Job{Files: []string{in}, Policy: writeFile(t, dir, "p.yaml", lossy)}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			if got := WhatIf(notes); got != tc.whatIf {
				t.Errorf("got what-if %v, want %v; notes %q", got, tc.whatIf, notes)
			}
			for _, p := range res.Ports {
				if p.Name == "a" && tc.unseen != nil && (p.Live == nil || p.Live.Drops[hub.DropRunt.String()] != 1) {
					t.Errorf("port a: got live counters %+v, want runt=1 among them", p.Live)
				}
			}
			queues := slices.ContainsFunc(notes, func(n Note) bool {
				return n.Kind == NoteQueues && strings.Contains(n.Text, "port b: queue-full ")
			})
			if queues != tc.queue {
				t.Errorf("got a note of port b's queue-full drops %v, want %v; notes %q", queues, tc.queue, notes)
			}
		})
	}
}

// TestReplayWhatIfDrainsAtTheEnd: the end of a capture is where the run
// stopped, but only a replay of the run as it was stops there. A what-if
// policy (here a longer delay) and a replay of a replay's output (no
// live hub stopped) deliver every copy still held, as --drain does, and
// say nothing of a live hub discarding them.
func TestReplayWhatIfDrainsAtTheEnd(t *testing.T) {
	data, _, _ := stoppedWithDelays(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "run.pcapng", string(data))
	policy := writeFile(t, dir, "p.yaml", delayPolicy)
	out := filepath.Join(dir, "again.pcapng")
	if _, err := (&Job{Files: []string{in}, Policy: policy, Output: out}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	slower := writeFile(t, dir, "slower.yaml", "seed: 1\nrules:\n  - {name: slow, match: {link: a->b}, delay: 30ms}\n")
	for _, tc := range []struct{ name, in, policy string }{
		{"another-policy", in, slower},
		{"replay-output", out, policy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := (&Job{Files: []string{tc.in}, Policy: tc.policy}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			if got := portStats(res.Result)["b"].TxFrames; got != 10 || res.Discarded != 0 {
				t.Errorf("got b tx %d, %d discarded, want every copy delivered, none discarded", got, res.Discarded)
			}
			if slices.ContainsFunc(notes, func(n Note) bool { return n.Kind == NoteEnd }) {
				t.Errorf("got notes %q, want none on copies discarded at the end", notes)
			}
		})
	}
}
