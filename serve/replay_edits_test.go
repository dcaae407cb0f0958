package serve_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/filter"
	"l2hub/hub/hubtest"
	"l2hub/replay"
	"l2hub/report"
	"l2hub/serve"
	"l2hub/transport"
)

// TestReplayMakesTheLiveEditsAgain: a live hub whose rules, partitions and
// links are changed through the control API while frames cross records
// each change in its capture, and a replay of that capture with the run's
// policy makes them again at their times, so every frame gets the live
// run's verdict. Left out (--ignore-edits), the verdicts differ: the edits
// mattered, and the comparison can tell.
func TestReplayMakesTheLiveEditsAgain(t *testing.T) {
	hub := runPair(t, "seed: 9\nrules:\n  - {name: loss-a-b, match: {link: a->b}, loss: 20%}\n", serve.Options{})
	cfg, c, stop, dir, policy := hub.cfg, hub.ctl, hub.stop, t.TempDir(), hub.cfg.Policy
	ctx := context.Background()
	vms := map[string]*transport.StreamConn{"a": hub.a, "b": hub.b}
	for _, vm := range vms {
		go func() { // the VMs read everything, so nothing waits on them
			buf := make([]byte, transport.DefaultMaxFrame)
			for {
				if _, err := vm.ReadFrame(buf); err != nil {
					return
				}
			}
		}()
	}
	rx := func() (a, b uint64) {
		ports, err := c.Ports(ctx)
		if err != nil || len(ports) != 2 {
			t.Fatalf("ports: %v, %v", ports, err)
		}
		return ports[0].Stats.RxFrames, ports[1].Stats.RxFrames
	}
	macs := map[string][6]byte{"a": hubtest.MAC("02:00:00:00:00:0a"), "b": hubtest.MAC("02:00:00:00:00:0b")}
	var sent uint64
	// phase has each VM send 30 distinct broadcast frames and waits until
	// the hub has taken them all in, so that the next edit falls after them.
	phase := func(name string) {
		t.Helper()
		for i := range 30 {
			for _, port := range []string{"a", "b"} {
				f := hubtest.Frame(hubtest.Broadcast, macs[port], fmt.Sprintf("%s %s %d", name, port, i))
				if err := vms[port].WriteFrame(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		sent += 30
		waitFor(t, name+": the hub took in every frame", func() bool { a, b := rx(); return a == sent && b == sent })
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	phase("start")
	_, err := c.AddRule(ctx, "dup-b-a", []byte("{match: {link: b->a}, duplicate: 50%}"), "loss-a-b")
	must(err)
	phase("added")
	_, err = c.UpdateRule(ctx, "loss-a-b", []byte("{match: {link: a->b}, loss: 60%}"))
	must(err)
	phase("updated")
	must(c.StartPartition(ctx, "cut", [][]string{{"a"}, {"b"}}))
	phase("partitioned")
	must(c.HealPartition(ctx, "cut"))
	phase("healed")
	must(c.SetLink(ctx, "b", false))
	phase("link-down")
	must(c.SetLink(ctx, "b", true))
	phase("link-up")
	_, err = c.RemoveRule(ctx, "loss-a-b")
	must(err)
	phase("removed")
	// A partition that drops nothing is recorded too: the report draws it.
	must(c.StartPartition(ctx, "quiet", [][]string{{"a"}, {"b"}}))
	must(c.HealPartition(ctx, "quiet"))
	phase("after-quiet")
	stop()

	live := verdicts(t, cfg.Capture.File, false)
	if len(live) != 2*int(sent) {
		t.Fatalf("the live capture has %d ingress frames, want %d", len(live), 2*sent)
	}
	replayed := func(ignore bool) ([]string, *replay.JobResult) {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprintf("replay-%v.pcapng", ignore))
		res, err := (&replay.Job{Files: []string{cfg.Capture.File}, Policy: policy, Output: out, Points: "ingress", IgnoreEdits: ignore}).Run(ctx)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		return verdicts(t, out, false), res
	}
	again, res := replayed(false)
	wantEdits := []string{
		"rule dup-b-a added before loss-a-b", "rule loss-a-b updated",
		"partition cut started: a|b", "partition cut healed",
		"link b down", "link b up", "rule loss-a-b removed",
		"partition quiet started: a|b", "partition quiet healed",
	}
	var got []string
	for _, e := range res.Edits {
		if !e.Applied || e.Err != "" || e.Edit == nil {
			t.Errorf("edit %s: not applied", e)
			continue
		}
		got = append(got, e.Edit.String())
	}
	if !slices.Equal(got, wantEdits) {
		t.Errorf("the replay made the edits %q, want %q", got, wantEdits)
	}
	if i, ok := firstDifference(live, again); !ok {
		t.Fatalf("ingress frame %d: live %q, replay %q (of %d and %d)", i+1, at(live, i), at(again, i), len(live), len(again))
	}
	var b strings.Builder
	if err := res.WriteSummary(&b); err != nil || !strings.Contains(b.String(), "rule loss-a-b updated (frame ") {
		t.Errorf("the summary lacks the edits (%v):\n%s", err, b.String())
	}

	// The report draws the control API's windows with their exact edges.
	at := map[string]time.Duration{}
	for _, e := range res.Edits {
		at[e.Edit.String()] = e.Edit.At
	}
	m, err := report.Build(report.Options{Capture: cfg.Capture.File})
	if err != nil {
		t.Fatal(err)
	}
	bands := map[string]report.Band{}
	for _, bd := range m.Bands {
		bands[bd.Kind+" "+bd.Name+" "+bd.Spec] = bd
	}
	for _, w := range []struct {
		key, on, off string
		drops        bool
	}{
		{"partition cut a|b", "partition cut started: a|b", "partition cut healed", true},
		{"down  port b", "link b down", "link b up", true},
		{"partition quiet a|b", "partition quiet started: a|b", "partition quiet healed", false},
	} {
		bd, ok := bands[w.key]
		if !ok || !bd.Control || bd.Began != at[w.on] || bd.Ended != at[w.off] || (bd.Drops > 0) != w.drops ||
			w.drops && (bd.Start < bd.Began || bd.End > bd.Ended) {
			t.Errorf("band %q: %+v (found %v), want the control API's from %v to %v, drops %v", w.key, bd, ok, at[w.on], at[w.off], w.drops)
		}
	}
	var marks []string
	for _, mk := range m.Markers {
		if mk.Port == -1 && mk.Class == "control" {
			marks = append(marks, strings.TrimPrefix(mk.Text, "control: "))
		}
	}
	if !slices.Equal(marks, wantEdits) {
		t.Errorf("the report marks the changes %q on the hub's line, want %q", marks, wantEdits)
	}
	if len(m.Bands) != 3 {
		t.Errorf("the report draws %d bands, want 3: %+v", len(m.Bands), m.Bands)
	}

	without, res := replayed(true)
	if len(res.Edits) != len(wantEdits) || res.Edits[0].Applied {
		t.Errorf("--ignore-edits: %+v, want the %d edits listed, none applied", res.Edits, len(wantEdits))
	}
	if _, ok := firstDifference(verdicts(t, cfg.Capture.File, true), without); ok {
		t.Error("a replay without the edits decided as the live run did: the test cannot tell edits from none")
	}
	for _, v := range without {
		if strings.Contains(v, "control at ") {
			t.Fatalf("a replay with --ignore-edits records a change it did not make: %s", v)
		}
	}
}

// verdicts returns a capture's ingress records as "port payload: comment":
// the verdict, and the control API's changes recorded on the record (a
// replay records those it makes again as the live hub did); with strip,
// without those changes.
func verdicts(t *testing.T, path string, strip bool) []string {
	t.Helper()
	var out []string
	for _, p := range capturetest.Packets(t, path) {
		if p.Dir != capture.DirIn {
			continue
		}
		comment := p.Comment
		if strip {
			var keep []string
			for line := range strings.SplitSeq(filter.WithoutEdits(comment), "\n") {
				if !strings.HasPrefix(line, "control at ") {
					keep = append(keep, line)
				}
			}
			comment = strings.Join(keep, "\n")
		}
		out = append(out, fmt.Sprintf("%s %q: %s", p.IfName, p.Data[14:], comment))
	}
	return out
}

func firstDifference(a, b []string) (int, bool) {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i, false
		}
	}
	return min(len(a), len(b)), len(a) == len(b)
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
