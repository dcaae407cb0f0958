package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
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
	endRun(t, sim, sink)

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
	endRun(t, sim, sink)

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
		for _, p := range readPackets(t, data) {
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
	sink := liveSink(t, buf, capture.Meta{Version: "test", Start: hub.DefaultEpoch})
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
// and carries the edits made meanwhile; a replay of the resumed file alone
// counts the frames the capture's writer lost, and still makes the edit:
// the frames after it do not reach the port it took down.
func TestReplayWarnsOfAFailedFilesGap(t *testing.T) {
	d := &fullDisk{files: map[string]*bytes.Buffer{}}
	var lost uint64
	synctest.Test(t, func(t *testing.T) {
		clock := hub.NewVirtualClock(hub.DefaultEpoch)
		driver := &hub.Driver{Clock: clock}
		cfg := capture.Config{
			Path: "/mem/run.pcapng", Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch},
			Create: d.Create, Remove: d.Remove, Overflow: capture.OverflowBlock,
			Clock: clock, FlushInterval: 50 * time.Millisecond, RetryInterval: time.Second,
		}
		sink, err := capture.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the writer has set its flush timer
		sink.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
		sink.PortAdded(hub.PortInfo{ID: 1, Name: "b"})
		k := 0
		send := func(n int) {
			for range n {
				at := time.Duration(k) * time.Millisecond
				ev := hub.Event{Time: hub.DefaultEpoch.Add(at), Port: 0, PortName: "a", Dir: hub.Ingress,
					Frame: hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), fmt.Sprintf("frame %d", k))}
				sink.Observe(&ev)
				k++
			}
		}
		var now time.Duration
		flush := func() {
			now += cfg.FlushInterval
			driver.AdvanceTo(hub.DefaultEpoch.Add(now), synctest.Wait)
			synctest.Wait()
		}
		send(10)
		flush()
		d.full.Store(true)
		sink.Annotate(filter.Edit{At: 10 * time.Millisecond, Op: filter.EditLinkDown, Name: "b"}.Comment(filter.RuleDescription{}))
		send(15)
		flush()
		d.full.Store(false)
		for sink.Stats().Files < 2 && now < 5*time.Second {
			flush()
		}
		send(5)
		if err := sink.Close(); err == nil {
			t.Error("Close() = nil, want the full disk's error")
		}
		st := sink.Stats()
		if st.Files != 2 || st.Written != 15 || st.WriteError != 15 {
			t.Fatalf("the capture: %+v, want 2 files, 15 frames written and 15 lost to the full disk", st)
		}
		lost = st.WriteError
	})

	r, err := Open(Config{Inputs: []Input{memInput("run-0001.pcapng", d.file(t, "/mem/run-0001.pcapng"))}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].Missing != lost || res.Inputs[0].Packets != 5 {
		t.Fatalf("got inputs %+v, want the 5 frames of the resumed file and the %d the full disk lost missing", res.Inputs, lost)
	}
	if len(res.Edits) != 1 || !res.Edits[0].Applied || res.Edits[0].Frame != 1 {
		t.Fatalf("got edits %+v, want link b down, carried on the resumed file's first frame and made", res.Edits)
	}
	for _, p := range res.Ports {
		if p.Name == "b" && (p.Stats.TxFrames != 0 || p.Stats.Drops["policy"] != 5) {
			t.Errorf("port b: sent %d frames, dropped %v; want none sent, the 5 dropped by the carried edit", p.Stats.TxFrames, p.Stats.Drops)
		}
	}
	var w strings.Builder
	if err := res.WriteInputErrors(&w); err != nil || !strings.Contains(w.String(), fmt.Sprintf("the capture lost %d events", lost)) {
		t.Errorf("the warnings (%v): %q, want the %d events lost", err, w.String(), lost)
	}
}

// fullDisk is an in-memory file system that can be made full: while it
// is, a write stores nothing and fails with ENOSPC.
type fullDisk struct {
	mu    sync.Mutex
	files map[string]*bytes.Buffer
	full  atomic.Bool
}

type fullDiskFile struct {
	d *fullDisk
	b *bytes.Buffer
}

func (f fullDiskFile) Write(p []byte) (int, error) {
	if f.d.full.Load() {
		return 0, syscall.ENOSPC
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	return f.b.Write(p)
}

func (fullDiskFile) Close() error { return nil }

func (d *fullDisk) Create(path string) (io.WriteCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := new(bytes.Buffer)
	d.files[path] = b
	return fullDiskFile{d, b}, nil
}

func (d *fullDisk) Remove(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.files, path)
	return nil
}

func (d *fullDisk) file(t *testing.T, path string) []byte {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.files[path]
	if !ok {
		t.Fatalf("no file %s", path)
	}
	return bytes.Clone(b.Bytes())
}

// TestReplayCountsTheLinesLeftOut: annotations past what the capture keeps
// for one frame (a burst of control edits or VM changes with no frame
// between, over 512 KiB) are left out by the capture, which says how many;
// the replay adds them up and warns that it cannot make them.
func TestReplayCountsTheLinesLeftOut(t *testing.T) {
	buf, sink, sim := recordLive(t, nil)
	mac := hubtest.MAC("02:00:00:00:00:0a")
	const lines = 600 // 600 KB
	for range lines {
		sink.Annotate(strings.Repeat("n", 1000))
	}
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, mac, "one"))
	endRun(t, sim, sink)
	r, err := Open(Config{Inputs: []Input{memInput("full.pcapng", buf.Bytes())}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Inputs) != 1 || res.Inputs[0].LinesLeftOut == 0 || res.Inputs[0].LinesLeftOut >= lines {
		t.Fatalf("got inputs %+v, want some of the %d lines left out", res.Inputs, lines)
	}
	var w strings.Builder
	if err := res.WriteInputErrors(&w); err != nil || !strings.Contains(w.String(), "comment lines it had no room for") {
		t.Errorf("the warnings (%v): %q", err, w.String())
	}
}
