package replay

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// Control calls the live loop found late to fire a timer (the review's
// probes): a set-policy or an edit made while a delayed copy was due. The
// live run is a hubtest sim with a capture sink, the set-policy made as
// serve makes it (SetMeta, then SetPolicy, policy-since = the run time);
// the replay, given every policy, must give the run's records exactly.

type lateStep struct {
	at     time.Duration
	late   bool          // the loop has not fired the timers due by at
	coreAt time.Duration // older: where that hub made the call (0: at)
	policy string        // set-policy to this text
	edit   *filter.Edit  // an edit, stamped at
	send   string        // a broadcast from a with this payload
	inject string        // a broadcast injected into port b with this payload
}

// lateRun records a run of steps and replays it. older makes each late
// call as an l2hub from before Hub.Do fired due timers first did: its
// core made the set-policy just before the earliest overdue copy was due
// (coreAt), and the capture recorded the overdue deliveries after the
// call; otherwise a late call first fires the timers due, as Hub.Do does.
func lateRun(t *testing.T, points capture.Points, first string, older bool, steps []lateStep) (live, replayed []string, liveC, replayC int) {
	t.Helper()
	dir := t.TempDir()
	ports := []string{"a", "b", "c"}
	pol := mustPolicy(t, first, ports)
	extra := func(kv ...string) map[string]string {
		m := map[string]string{"mode": "hub"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash(), Extra: extra()}
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta, Points: points})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
	mac := hubtest.MAC("02:00:00:00:00:0a")
	cur := pol
	files := []string{writeFile(t, dir, "p0.yaml", first)}
	for i, st := range steps {
		switch {
		case !st.late:
			sim.AdvanceTo(st.at)
		case older && st.coreAt != 0:
			sim.Clock.Set(sim.Core().Start().Add(st.coreAt))
		case older:
			sim.Clock.Set(sim.Core().Start().Add(st.at))
		default:
			sim.Clock.Set(sim.Core().Start().Add(st.at))
			sim.Core().RunDue() // as Hub.Do does before a control call
		}
		switch {
		case st.policy != "":
			path := writeFile(t, dir, fmt.Sprintf("p%d.yaml", i+1), st.policy)
			files = append(files, path)
			p, err := filter.Parse([]byte(st.policy), path, ports)
			if err != nil {
				t.Fatal(err)
			}
			m := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: p.Seed(), PolicyHash: p.Hash(),
				Extra: extra(capture.PolicyNameKey, path, capture.PolicySinceKey, st.at.String())}
			if _, err := sink.SetMeta(m); err != nil {
				t.Fatal(err)
			}
			sim.Core().SetPolicy(p)
			cur = p
		case st.edit != nil:
			e := *st.edit
			e.At = st.at
			d, err := e.Apply(cur, e.At)
			if err != nil {
				t.Fatal(err)
			}
			sink.Annotate(e.Comment(d))
		case st.send != "":
			sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, st.send))
		}
		if st.inject != "" {
			b, _ := sim.Core().Lookup("b")
			sim.Core().Inject(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, mac, st.inject)), hub.InjectNotes)
		}
	}
	sim.AdvanceTo(sim.Now() + time.Second)
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.pcapng")
	res, err := (&Job{Files: sink.Files(), Policy: files[0], Policies: files[1:], Output: out, Points: "both"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Ports {
		if p.Name == "c" {
			replayC = int(p.Stats.TxFrames)
		}
	}
	if len(res.Switches) != len(files)-1 {
		t.Errorf("got switches %q, want %d", res.Switches, len(files)-1)
	}
	return sink.Files(), res.Files, len(sim.Received("c")), replayC
}

func TestLateControlCallsReplay(t *testing.T) {
	ms := time.Millisecond
	const delay = "seed: 1\nrules:\n  - {name: wan, match: {link: a->c}, delay: 5ms}\n"
	// a's broadcast x at 1ms: to b at once, to c at 6ms.
	x := lateStep{at: 1 * ms, send: "x"}
	y := lateStep{at: 20 * ms, send: "y"}
	for _, tc := range []struct {
		name   string
		points capture.Points
		steps  []lateStep
		older  string // what an older l2hub's run gave (c's records), "" when not checked
		// unknowable: an older l2hub's capture of it does not say where
		// the set-policy was made (an ingress-only capture has no
		// delivery to place it before), so no replay can give the run's.
		unknowable bool
	}{
		{"late-switch-both", capture.PointsBoth, []lateStep{x,
			{at: 8 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 2\npartitions: [{name: split, groups: a|c, start: 0s}]\n"}, y}, "", false},
		{"late-switch-ingress-only", capture.PointsIngress, []lateStep{x,
			{at: 8 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 2\npartitions: [{name: split, groups: a|c, start: 0s}]\n"}, y}, "", true},
		// An older capture of it cannot say where the set-policy was made:
		// the delivery at its instant may as well be an injection after it
		// (the next case).
		{"switch-at-due-instant", capture.PointsBoth, []lateStep{x,
			{at: 6 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 2\npartitions: [{name: at6, groups: a|c, start: 6ms, end: 7ms}]\n"}, y},
			"", true},
		// A set-policy, then an injection into b at the same instant, which
		// the capture records first in the new section: it does not move
		// the switch before the copy due then.
		{"switch-then-inject-at-due-instant", capture.PointsBoth, []lateStep{x,
			{at: 6 * ms, late: true, policy: "seed: 2\npartitions: [{name: at6, groups: a|c, start: 6ms, end: 7ms}]\n", inject: "i"}, y},
			"", true},
		{"two-late-switches", capture.PointsBoth, []lateStep{x,
			{at: 8 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 2\nrules:\n  - {name: wan, match: {link: a->c}, delay: 5ms}\n"},
			{at: 9 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 3\npartitions: [{name: split, groups: a|c, start: 0s}]\n"}, y},
			"c out 6ms dropped: rule wan: delay (5ms); rule split: partition (a|c)", false},
		{"late-edit-then-late-switch", capture.PointsBoth, []lateStep{x,
			{at: 7 * ms, late: true, coreAt: 6*ms - 1, edit: &filter.Edit{Op: filter.EditLinkDown, Name: "c"}},
			{at: 8 * ms, late: true, coreAt: 6*ms - 1, policy: "seed: 2\nrules:\n  - {name: wan, match: {link: a->c}, delay: 5ms}\n"}, y},
			"c out 6ms dropped: rule wan: delay (5ms); down (port c), c out 25ms rule wan: delay (5ms)", false},
	} {
		for _, older := range []bool{false, true} {
			if older && tc.unknowable {
				continue
			}
			name := tc.name
			if older {
				name += "/older-capture"
			}
			t.Run(name, func(t *testing.T) {
				live, replayed, liveC, replayC := lateRun(t, tc.points, delay, older, tc.steps)
				if liveC != replayC {
					t.Errorf("got %d frames delivered to c in the replay, want the run's %d", replayC, liveC)
				}
				if tc.points == capture.PointsBoth {
					if n := sameRecords(t, live, replayed); n > 0 {
						t.Errorf("got %d of the replay's records differing from the run's", n)
					}
				}
				if older && tc.older != "" { // the emulation gives what the review saw that l2hub record
					var cs []string
					for _, r := range records(t, live) {
						if r.Port == "c" {
							cs = append(cs, fmt.Sprintf("c %s %v %s", r.Dir, r.Time.Sub(hub.DefaultEpoch), r.Comment))
						}
					}
					if got := strings.Join(cs, ", "); got != tc.older {
						t.Errorf("got c's records in the older run %s, want %s", got, tc.older)
					}
				}
			})
		}
	}
}
