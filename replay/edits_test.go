package replay

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestReplayAppliesEditsAndBoundsTheirList: a capture that records more
// policy edits than a result lists has every one applied (a link taken
// down before each even frame and up before each odd one: the even frames
// are dropped), lists the first MaxEditResults, counts the rest, and
// reports an unreadable edit line without stopping.
func TestReplayAppliesEditsAndBoundsTheirList(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	const n = MaxEditResults + 10
	sink.Annotate(filter.EditPrefix + `{"at":0,"op":"link-down","na`) // cut short
	for i := range n {
		op := filter.EditLinkDown
		if i%2 == 1 {
			op = filter.EditLinkUp
		}
		sim.AdvanceTo(time.Duration(i) * time.Millisecond)
		sink.Annotate(filter.Edit{At: sim.Now(), Op: op, Name: "b"}.Line())
		sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), fmt.Sprintf("frame %d", i)))
	}
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open(Config{Inputs: []Input{memInput("edits.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edits) != MaxEditResults || res.EditsLeftOut != n+1-MaxEditResults {
		t.Fatalf("got %d edits listed and %d left out, want %d and %d", len(res.Edits), res.EditsLeftOut, MaxEditResults, n+1-MaxEditResults)
	}
	if e := res.Edits[0]; e.Applied || !strings.Contains(e.Err, "recorded policy edit: unexpected EOF") || e.Frame != 1 {
		t.Errorf("the cut edit: %+v, want an error on frame 1", e)
	}
	for _, e := range res.Edits[1:] {
		if !e.Applied || e.Err != "" {
			t.Fatalf("edit %s: not applied", e)
		}
	}
	for _, p := range res.Ports {
		if p.Name == "b" && (p.Stats.TxFrames != n/2 || p.Stats.Drops["policy"] != n/2) {
			t.Errorf("port b: sent %d frames, dropped %v; want %d of %d, the others dropped", p.Stats.TxFrames, p.Stats.Drops, n/2, n)
		}
	}
	var sum strings.Builder
	if err := res.WriteSummary(&sum); err != nil || !strings.Contains(sum.String(), fmt.Sprintf("... and %d more, not listed", n+1-MaxEditResults)) {
		t.Errorf("the summary does not say how many edits it left out (%v):\n%.600s", err, sum.String())
	}
}

// TestReplayEditBeforeALateTimer: a live hub that fires a delayed frame's
// timer late, after an edit, stamps the delivery with its deadline, which
// is before the edit's time, and notes the edit on it. The replay makes
// the edit before that delivery too (not at the edit's time, which would
// deliver the frame first), so its capture notes the edit on the same
// record, and the edit takes the live hub's time.
func TestReplayEditBeforeALateTimer(t *testing.T) {
	policy := func() *filter.Policy {
		return mustPolicy(t, "seed: 1\nrules:\n  - {name: slow, match: {link: a->b}, delay: 5ms}\n", []string{"a", "b"})
	}
	buf, sink, sim := recordLive(t, policy())
	macA, macB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "delayed")) // delivered at 5ms
	// As if the hub made the edit at 7ms and only then fired the 5ms timer.
	late := filter.Edit{At: 7 * time.Millisecond, Op: filter.EditPartitionStart, Name: "cut", Groups: [][]string{{"a"}, {"b"}}}
	sink.Annotate(late.Comment(filter.RuleDescription{}))
	sim.AdvanceTo(5 * time.Millisecond)
	sim.SendAt(8*time.Millisecond, "b", hubtest.Frame(hubtest.Broadcast, macB, "after"))
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open(Config{Inputs: []Input{memInput("late.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub, Policy: policy(), Capture: memCapture(&out, capture.Meta{Version: "test"})})
	if err != nil || len(res.Edits) != 1 || !res.Edits[0].Applied {
		t.Fatalf("Run: %v, edits %+v", err, res.Edits)
	}
	noted := func(data []byte) string {
		rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for p, err := range rd.All() {
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(p.Comment, "control at 7ms: partition cut started: a|b") {
				return fmt.Sprintf("%s %v %q at %v", p.IfName, p.Dir, p.Data[14:21], p.Time.Sub(hub.DefaultEpoch))
			}
		}
		return "nowhere"
	}
	if live, replayed := noted(buf.Bytes()), noted(out.Bytes()); live != replayed || !strings.Contains(live, "delayed") {
		t.Errorf("the edit is noted on %s live and on %s in the replay; want the delayed frame's delivery in both", live, replayed)
	}
	for _, p := range res.Ports {
		if p.Name == "a" && p.Stats.TxFrames != 0 {
			t.Errorf("port a got %d frames; b's frame at 8ms should meet the partition", p.Stats.TxFrames)
		}
	}
}

// TestReplayEditAfterTheLastFrame: an edit the live hub made after its
// last frame is in the capture's trailer; the replay lists it as such,
// makes it, and its own capture ends with it the same way.
func TestReplayEditAfterTheLastFrame(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "only"))
	sim.Drain()
	down := filter.Edit{At: 3 * time.Millisecond, Op: filter.EditLinkDown, Name: "b"}
	sink.Annotate(down.Comment(filter.RuleDescription{}))
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open(Config{Inputs: []Input{memInput("trailer.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub, Capture: memCapture(&out, capture.Meta{Version: "test"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edits) != 1 || !res.Edits[0].Applied || !res.Edits[0].AfterLast || res.Edits[0].Frame != 2 {
		t.Fatalf("got edits %+v, want the link going down after the last frame (2), applied", res.Edits)
	}
	if s := res.Edits[0].String(); !strings.Contains(s, "(after the last frame, 2)") {
		t.Errorf("the summary lists it as %q", s)
	}
	trailer := func(data []byte) string {
		rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range rd.All() {
			if err != nil {
				t.Fatal(err)
			}
		}
		return rd.Trailer()
	}
	if live, replayed := trailer(buf.Bytes()), trailer(out.Bytes()); live == "" || live != replayed {
		t.Errorf("the live capture ends with %q, the replay's with %q; want the same edit", live, replayed)
	}
}

// recordLive plays a live hub for the edit tests: a simulated hub of ports
// a and b under policy (nil for none), recording into a capture in memory
// that blocks rather than drop.
func recordLive(t *testing.T, policy *filter.Policy) (*bytes.Buffer, *capture.Sink, *hubtest.Sim) {
	t.Helper()
	buf := new(bytes.Buffer)
	cfg := memCapture(buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch})
	cfg.Overflow = capture.OverflowBlock
	sink, err := capture.Open(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}}
	if policy != nil {
		hc.Policy = policy
	}
	return buf, sink, hubtest.New(t, hc)
}

// TestReplayCountsTheCapturesGaps: a capture whose writer fell behind the
// live hub says how many events it lost, on the record after each gap and
// in its trailer; the replay adds them up and warns that it cannot do
// what they did.
func TestReplayCountsTheCapturesGaps(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	mac := hubtest.MAC("02:00:00:00:00:0a")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "one"))
	sink.Annotate("capture: 7 events missing before this one (the writer fell behind)")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "two"))
	sim.Drain()
	sink.Annotate("capture: 3 events missing after the last record (the writer fell behind)")
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Config{Inputs: []Input{memInput("gaps.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].Missing != 10 {
		t.Fatalf("got inputs %+v, want 10 events missing", res.Inputs)
	}
	var w strings.Builder
	if err := res.WriteInputErrors(&w); err != nil || !strings.Contains(w.String(), "the capture lost 10 events") {
		t.Errorf("the warnings (%v): %q", err, w.String())
	}
}

// TestReplayWarnsOfAFailedFilesGap: a capture that resumed after its file
// failed (a full disk) says, on its first frame, how many frames it lost
// and carries the edits made meanwhile; the replay counts the gap, says
// what made it, and still makes the edits.
func TestReplayWarnsOfAFailedFilesGap(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	mac := hubtest.MAC("02:00:00:00:00:0a")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "one"))
	// As capture's writer puts it on the first frame of the file it
	// resumed in (capture's TestResumeCarriesWhatTheFailureLost).
	sink.Annotate("capture: 15 events missing before this one, from 10ms to 24ms (the file run.pcapng failed: no space left on device)")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "two"))
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Config{Inputs: []Input{memInput("run-0001.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].Missing != 15 {
		t.Fatalf("got inputs %+v, want 15 events missing", res.Inputs)
	}
	var w strings.Builder
	if err := res.WriteInputErrors(&w); err != nil || !strings.Contains(w.String(), "the capture lost 15 events") || !strings.Contains(w.String(), "its file failed") {
		t.Errorf("the warnings (%v): %q, want 15 events lost, and that a file failure may have lost them", err, w.String())
	}
}

// TestReplayCountsTheLinesLeftOut: annotations that did not fit a frame's
// comment (a burst of control edits or VM changes with no frame between)
// are left out by the capture, which says how many; the replay adds them
// up and warns that it cannot make them.
func TestReplayCountsTheLinesLeftOut(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	mac := hubtest.MAC("02:00:00:00:00:0a")
	for range 40 {
		sink.Annotate(strings.Repeat("n", 1000))
	}
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "one"))
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Config{Inputs: []Input{memInput("full.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].LinesLeftOut == 0 || res.Inputs[0].LinesLeftOut >= 40 {
		t.Fatalf("got inputs %+v, want some of the 40 lines left out", res.Inputs)
	}
	var w strings.Builder
	if err := res.WriteInputErrors(&w); err != nil || !strings.Contains(w.String(), "comment lines where a frame's comment was full") {
		t.Errorf("the warnings (%v): %q", err, w.String())
	}
}
