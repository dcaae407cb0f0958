package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// recordPeers records a live run in which port b's VM attaches at 20ms
// and goes away at 40ms, while a broadcasts at 10, 30 and 50ms; recorded
// says whether the capture's header says it notes its peer changes.
func recordPeers(t *testing.T, recorded bool) []byte {
	t.Helper()
	buf := new(bytes.Buffer)
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "hub"}}
	if recorded {
		meta.Extra[capture.PeersKey] = capture.PeersRecorded
	}
	sink := liveSink(t, buf, meta)
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	c := sim.Core()
	a, _ := c.Lookup("a")
	b, _ := c.Lookup("b")
	bq := c.Egress(b)
	set := func(out hub.EgressQueue) {
		if err := c.SetEgress(b, out); err != nil {
			t.Fatal(err)
		}
	}
	set(nil)
	c.NotePeer(a, 0, "chan a", true, "")
	mac := hubtest.MAC("02:00:00:00:00:0a")
	sim.SendAt(10*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "before b"))
	sim.AdvanceTo(20 * time.Millisecond)
	set(bq)
	c.NotePeer(b, sim.Now(), "chan b", true, "")
	sim.SendAt(30*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "to b"))
	sim.AdvanceTo(40 * time.Millisecond)
	set(nil)
	c.NotePeer(b, sim.Now(), "chan b", false, "read: EOF")
	sim.SendAt(50*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "after b"))
	endRun(t, sim, sink)
	return buf.Bytes()
}

// TestReplayFollowsTheRecordedPeers: a capture that records when each
// VM attached and went away replays with each port down while it had no
// VM, so the replay drops (port-down) what the live hub dropped, and its
// capture says so on the same records as the live one; a capture that
// does not record them replays every port as attached throughout.
func TestReplayFollowsTheRecordedPeers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		recorded      bool
		sent, dropped uint64
	}{
		{"recorded", true, 1, 2},
		{"not recorded", false, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := recordPeers(t, tc.recorded)
			res, out := replayCapturing(t, memInput("peers.pcapng", live))
			for _, p := range res.Ports {
				if p.Name == "b" && (p.Stats.TxFrames != tc.sent || p.Stats.Drops["port-down"] != tc.dropped) {
					t.Errorf("port b: sent %d, drops %v; want %d sent and %d port-down", p.Stats.TxFrames, p.Stats.Drops, tc.sent, tc.dropped)
				}
			}
			if want := map[bool]int{true: 3, false: 0}[tc.recorded]; res.PeerChanges != want || len(res.PeerErrors) > 0 {
				t.Errorf("made %d peer changes (errors %q), want %d", res.PeerChanges, res.PeerErrors, want)
			}
			if !tc.recorded {
				return
			}
			describe := func(data []byte) []string {
				var got []string
				for _, p := range readPackets(t, data) {
					got = append(got, describePacket(p))
				}
				return got
			}
			want, got := describe(live), describe(out)
			if !slices.Equal(got, want) {
				t.Errorf("the replay's capture differs from the live one:\n got %q\nwant %q", got, want)
			}
			if !strings.Contains(strings.Join(want, "\n"), "port b detached (read: EOF)") {
				t.Errorf("the live capture does not note b's detach: %q", want)
			}
		})
	}
}

// memFS is a capture's files in memory, by path.
type memFS map[string]*bytes.Buffer

func (fs memFS) config(meta capture.Meta) capture.Config {
	return capture.Config{
		Path: "/mem/run.pcapng",
		Meta: meta,
		Create: func(path string) (io.WriteCloser, error) {
			fs[path] = new(bytes.Buffer)
			return memFile{fs[path]}, nil
		},
		Overflow: capture.OverflowBlock,
	}
}

// replayCapturing replays ins in hub mode and returns the result and the
// replay's capture.
func replayCapturing(t *testing.T, ins ...Input) (*Result, []byte) {
	t.Helper()
	r, err := Open(Config{Inputs: ins})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub, Capture: memCapture(&out, capture.Meta{Version: "test", Start: hub.DefaultEpoch})})
	if err != nil {
		t.Fatal(err)
	}
	return res, out.Bytes()
}

// replayFiles replays the named files of fs and returns port b's sent
// frames and port-down drops, and the replay's capture.
func replayFiles(t *testing.T, fs memFS, paths ...string) (sent, down uint64, out []byte) {
	t.Helper()
	var ins []Input
	for _, p := range paths {
		b, ok := fs[p]
		if !ok {
			t.Fatalf("no file %s (have %v)", p, slices.Collect(maps.Keys(fs)))
		}
		ins = append(ins, memInput(p, b.Bytes()))
	}
	res, out := replayCapturing(t, ins...)
	if len(res.PeerErrors) > 0 {
		t.Errorf("peer errors: %q", res.PeerErrors)
	}
	for _, p := range res.Ports {
		if p.Name == "b" {
			sent, down = p.Stats.TxFrames, p.Stats.Drops["port-down"]
		}
	}
	return sent, down, out
}

// peersSim is a simulated hub in hub mode with ports, whose capture,
// in fs, records its peers (capture.PeersRecorded); tune adjusts the
// capture's configuration. Each port's VM is noted attached at 0, as
// serve notes a VM that connects at once.
func peersSim(t *testing.T, ports []string, tune func(*capture.Config)) (memFS, *capture.Sink, *hubtest.Sim) {
	t.Helper()
	fs := memFS{}
	cfg := fs.config(capture.Meta{Version: "test", Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "hub", capture.PeersKey: capture.PeersRecorded}})
	tune(&cfg)
	sink, err := capture.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Observers: []hub.Observer{sink}})
	for _, p := range ports {
		id, _ := sim.Core().Lookup(p)
		sim.Core().NotePeer(id, 0, "chan "+p, true, "")
	}
	return fs, sink, sim
}

// perPortFiles makes peersSim's capture one file per port.
func perPortFiles(t *testing.T) func(*capture.Config) {
	return func(c *capture.Config) {
		c.PerPort = true
		c.Path = t.TempDir() + "/run.pcapng" // per-port files need the directory; the files are fs's
	}
}

// TestReplayOfOneFileKnowsItsVMs: each file of a rotated capture says in
// its header which ports have a VM when it starts, so one file replayed
// alone, or after set-policy started it (with the notes of the changes
// before at the end of the file before), drops what the live hub dropped
// for want of a VM, and delivers the rest; a replay of the replay does
// the same.
func TestReplayOfOneFileKnowsItsVMs(t *testing.T) {
	fs, sink, sim := peersSim(t, []string{"a", "b"}, func(c *capture.Config) { c.RotatePackets = 4 })
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "hub", capture.PeersKey: capture.PeersRecorded}}
	c := sim.Core()
	b, _ := c.Lookup("b")
	mac := hubtest.MAC("02:00:00:00:00:0a")
	for i := range 4 { // two files of a's frames and b's copies, all delivered
		sim.SendAt(time.Duration(10+i)*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "with b"))
	}
	sim.AdvanceTo(30 * time.Millisecond)
	if err := c.SetEgress(b, nil); err != nil {
		t.Fatal(err)
	}
	c.NotePeer(b, sim.Now(), "chan b", false, "read: EOF")
	done, err := sink.SetMeta(meta) // set-policy: the detach's note ends the file before
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // b has no VM: a's frames and their port-down copies, in two files
		sim.SendAt(time.Duration(40+i)*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "without b"))
	}
	sim.Drain()
	<-done
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	files := sink.Files()
	if len(files) < 4 {
		t.Fatalf("files %v: want two before set-policy and two after", files)
	}
	after := files[len(files)-1] // the last: b has had no VM since before it started
	for _, tc := range []struct {
		name       string
		paths      []string
		sent, down uint64
	}{
		{"all files", files, 4, 6},
		{"the first", files[:1], 2, 0},
		{"the file set-policy started and the one after", files[2:], 0, 6},
		{"the last", []string{after}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, down, out := replayFiles(t, fs, tc.paths...)
			if sent != tc.sent || down != tc.down {
				t.Fatalf("port b: %d sent, %d port-down; want %d and %d", sent, down, tc.sent, tc.down)
			}
			again := memFS{"/mem/replay.pcapng": bytes.NewBuffer(out)}
			if s2, d2, _ := replayFiles(t, again, "/mem/replay.pcapng"); s2 != sent || d2 != down {
				t.Errorf("a replay of the replay: b %d sent, %d port-down; want %d and %d", s2, d2, sent, down)
			}
		})
	}
}

// TestPerPortTrailersAreMadeOnce: each port's file of a per-port capture
// ends with the same trailer (an edit and a detach after the last frame):
// a replay of the files together makes each once.
func TestPerPortTrailersAreMadeOnce(t *testing.T) {
	fs, sink, sim := peersSim(t, []string{"a", "b"}, perPortFiles(t))
	c := sim.Core()
	b, _ := c.Lookup("b")
	sim.SendAt(10*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
	sim.AdvanceTo(20 * time.Millisecond)
	e := filter.Edit{At: sim.Now(), Op: filter.EditLinkDown, Name: "b"}
	sink.Annotate("control at 20ms: " + e.String() + "\n" + e.Line())
	c.NotePeer(b, sim.Now(), "chan b", false, "read: EOF")
	files := endRun(t, sim, sink)
	if len(files) != 2 {
		t.Fatalf("files %v, want one per port", files)
	}
	var ins []Input
	for _, p := range files {
		ins = append(ins, memInput(p, fs[p].Bytes()))
	}
	r, err := Open(Config{Inputs: ins})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Edits) != 1 || res.Edits[0].Err != "" || res.PeerChanges != 3 {
		t.Errorf("edits %+v and %d peer changes; want the link-down made once, and 3 changes (two attaches, one detach)", res.Edits, res.PeerChanges)
	}
}

// replayStats replays inputs (in order) and returns each port's stats.
func replayStats(t *testing.T, ins ...Input) map[string]hub.StatsSnapshot {
	t.Helper()
	r, err := Open(Config{Inputs: ins})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range res.Inputs {
		if in.Back > 0 {
			t.Errorf("%s: %d frames replayed after their time", in.Path, in.Back)
		}
	}
	out := map[string]hub.StatsSnapshot{}
	for _, p := range res.Ports {
		out[p.Name] = p.Stats
	}
	return out
}

// perPortRun records a per-port capture of ports a, b and c in hub mode:
// b's VM comes at 20ms, after a's first frame at 10ms and with a's second
// at 20ms (the same time as the attach); a says nothing after 20ms, while
// b and c talk until 100ms; after the last frame a link goes down and the
// VMs leave.
func perPortRun(t *testing.T) (memFS, []string) {
	t.Helper()
	fs, sink, sim := peersSim(t, []string{"a", "c"}, perPortFiles(t))
	sim.AddPort(t, "b") // b's VM comes later
	c := sim.Core()
	id := func(name string) hub.PortID { p, _ := c.Lookup(name); return p }
	bq := c.Egress(id("b"))
	if err := c.SetEgress(id("b"), nil); err != nil {
		t.Fatal(err)
	}
	mac := func(b byte) [6]byte { return hubtest.MAC(fmt.Sprintf("02:00:00:00:00:%02x", b)) }
	sim.SendAt(10*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac(0xa), "before b"))
	sim.AdvanceTo(20 * time.Millisecond)
	if err := c.SetEgress(id("b"), bq); err != nil {
		t.Fatal(err)
	}
	c.NotePeer(id("b"), sim.Now(), "chan b", true, "")
	sim.SendAt(20*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac(0xa), "with b"))
	for i := range 8 {
		at := time.Duration(30+10*i) * time.Millisecond
		sim.SendAt(at, "b", hubtest.Frame(mac(0xc), mac(0xb), "b to c"))
		sim.SendAt(at, "c", hubtest.Frame(mac(0xb), mac(0xc), "c to b"))
	}
	sim.AdvanceTo(110 * time.Millisecond)
	e := filter.Edit{At: sim.Now(), Op: filter.EditLinkDown, Name: "c"}
	sink.Annotate("control at 110ms: " + e.String() + "\n" + e.Line())
	for _, p := range []string{"a", "b", "c"} {
		c.NotePeer(id(p), sim.Now(), "chan "+p, false, "read: EOF")
	}
	return fs, endRun(t, sim, sink)
}

// TestPerPortReplayKeepsTheRunsOrder: the files of a per-port capture
// replay together as the live run went, in any order: the trailer every
// file repeats is made once, after the last frame of all of them (not when
// the first file ends), and a file's header, written when its port was
// added, does not undo a VM's coming that another file noted.
func TestPerPortReplayKeepsTheRunsOrder(t *testing.T) {
	fs, files := perPortRun(t)
	if len(files) != 3 {
		t.Fatalf("files %v, want one per port", files)
	}
	want := map[string][2]uint64{ // sent, port-down
		"a": {16, 0}, // b's and c's frames, flooded
		"b": {9, 1},  // a's frame at 20ms and c's; not a's at 10ms
		"c": {10, 0}, // a's two and b's
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
		var ins []Input
		for _, i := range order {
			ins = append(ins, memInput(files[i], fs[files[i]].Bytes()))
		}
		got := replayStats(t, ins...)
		for port, w := range want {
			if st := got[port]; st.TxFrames != w[0] || st.Drops["port-down"] != w[1] || st.Drops["policy"] != 0 {
				t.Errorf("order %v: port %s sent %d, drops %v; want %d sent, %d port-down", order, port, st.TxFrames, st.Drops, w[0], w[1])
			}
		}
	}
}

// TestForeignPortsHaveAVMInAReplayOfAReplay: a replay of an l2hub capture
// that records its peers, with another tool's capture beside it, gives the
// other capture's port a VM throughout, and its own capture says so, so a
// replay of that capture delivers to it too.
func TestForeignPortsHaveAVMInAReplayOfAReplay(t *testing.T) {
	live := recordPeers(t, true)
	macC := hubtest.MAC("02:00:00:00:00:0c")
	cFrames := writePcap(t, hub.DefaultEpoch, []pcapRecord{
		{5 * time.Millisecond, hubtest.Frame(hubtest.Broadcast, macC, "from c")},
		{35 * time.Millisecond, hubtest.Frame(hubtest.Broadcast, macC, "from c again")},
	})
	res, out := replayCapturing(t, memInput("peers.pcapng", live), Input{Path: "c.pcap", Port: "c", Open: memInput("c.pcap", cFrames).Open})
	first := portStats(res)
	again := replayStats(t, memInput("replay.pcapng", out))
	for _, port := range []string{"a", "b", "c"} {
		f, g := first[port], again[port]
		if f.TxFrames != g.TxFrames || f.Drops["port-down"] != g.Drops["port-down"] {
			t.Errorf("port %s: the replay sent %d (port-down %d), the replay of it %d (port-down %d)", port, f.TxFrames, f.Drops["port-down"], g.TxFrames, g.Drops["port-down"])
		}
	}
	if c := first["c"]; c.TxFrames != 3 {
		t.Errorf("c was sent %d frames, want a's 3", c.TxFrames)
	}
	// a's VM came at 0, noted on a's first frame at 10ms: c's frame at
	// 5ms reaches it; b's came at 20ms: c's first frame does not.
	if a, b := first["a"], first["b"]; a.TxFrames != 2 || b.Drops["port-down"] != 3 {
		t.Errorf("a was sent %d frames (want both of c's), b dropped %d port-down (want c's at 5ms and a's at 10 and 50ms)", a.TxFrames, b.Drops["port-down"])
	}
}

// TestRotatedReplayKeepsALateVMLate: a later file's header says a VM that
// came during the run is there; replayed with the files before it, it
// takes effect when its file starts, not from the run's start.
func TestRotatedReplayKeepsALateVMLate(t *testing.T) {
	fs, sink, sim := peersSim(t, []string{"a"}, func(c *capture.Config) { c.RotatePackets = 2 })
	sim.AddPort(t, "b")
	c := sim.Core()
	b, _ := c.Lookup("b")
	bq := c.Egress(b)
	if err := c.SetEgress(b, nil); err != nil {
		t.Fatal(err)
	}
	mac := hubtest.MAC("02:00:00:00:00:0a")
	for _, at := range []time.Duration{10, 20} {
		sim.SendAt(at*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "b not yet there"))
	}
	sim.AdvanceTo(30 * time.Millisecond)
	if err := c.SetEgress(b, bq); err != nil {
		t.Fatal(err)
	}
	c.NotePeer(b, sim.Now(), "chan b", true, "")
	for _, at := range []time.Duration{40, 50} {
		sim.SendAt(at*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "b there"))
	}
	files := endRun(t, sim, sink)
	if len(files) != 4 {
		t.Fatalf("files %v, want one per frame and its copy", files)
	}
	for _, tc := range []struct {
		name       string
		paths      []string
		sent, down uint64
	}{
		{"all", files, 2, 2},
		{"from the second", files[1:], 2, 1},
		{"from the third", files[2:], 2, 0},
	} {
		if sent, down, _ := replayFiles(t, fs, tc.paths...); sent != tc.sent || down != tc.down {
			t.Errorf("%s: b sent %d, %d port-down; want %d and %d", tc.name, sent, down, tc.sent, tc.down)
		}
	}
}

// TestUnreadablePeersHeader: a peers-attached header that cannot be read
// (a damaged or crafted capture) is said once and read as no port with a
// VM at the start, as a header without it: the notes still bring the VMs.
func TestUnreadablePeersHeader(t *testing.T) {
	live := recordPeers(t, true)
	good := []byte(`peers-attached={"at":0,"ports":[]}`)
	if !bytes.Contains(live, good) {
		t.Fatalf("the capture has no %s", good)
	}
	bad := bytes.ReplaceAll(live, good, []byte(`peers-attached={"at":x,"ports":[]}`))
	res, _ := replayCapturing(t, memInput("bad.pcapng", bad))
	if len(res.PeerErrors) != 1 || !strings.Contains(res.PeerErrors[0], "taken as no port with a VM") {
		t.Errorf("peer errors %q, want one saying how the header was taken", res.PeerErrors)
	}
	for _, p := range res.Ports {
		if p.Name == "b" && (p.Stats.TxFrames != 1 || p.Stats.Drops["port-down"] != 2) {
			t.Errorf("port b: sent %d, drops %v; want 1 sent and 2 port-down, as the live run", p.Stats.TxFrames, p.Stats.Drops)
		}
	}
}

// TestReplayOfALaterFileNotesItsVMsAtItsStart: a file a set-policy
// started, replayed alone, has its VMs from its header as of the
// set-policy, and the replay's capture notes them then, not at the run's
// start.
func TestReplayOfALaterFileNotesItsVMsAtItsStart(t *testing.T) {
	fs, sink, sim := peersSim(t, []string{"a", "b"}, func(*capture.Config) {})
	mac := hubtest.MAC("02:00:00:00:00:0a")
	sim.SendAt(10*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "before"))
	sim.AdvanceTo(30 * time.Millisecond)
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch,
		Extra: map[string]string{"mode": "hub", capture.PeersKey: capture.PeersRecorded, "policy-since": "30ms"}}
	if _, err := sink.SetMeta(meta); err != nil {
		t.Fatal(err)
	}
	sim.SendAt(40*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "after"))
	files := endRun(t, sim, sink)
	if len(files) != 2 {
		t.Fatalf("files %v, want two", files)
	}
	_, _, out := replayFiles(t, fs, files[1])
	rd, err := capture.NewReader(bytes.NewReader(out), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Comment, "hub at 30ms: port a attached") || strings.Contains(p.Comment, "hub at 0s") {
		t.Errorf("the replay's first record says %q, want the VMs noted at 30ms, when the file starts", p.Comment)
	}
}

// TestPeerErrorsAreBounded: a crafted capture with a great many
// unreadable peer lines keeps at most MaxPeerErrors of them in the
// result: untrusted input does not grow it without limit.
func TestPeerErrorsAreBounded(t *testing.T) {
	x := &run{res: &Result{}}
	for i := range MaxPeerErrors + 50 {
		x.peerError(fmt.Sprintf("frame %d: bad", i))
	}
	if n := len(x.res.PeerErrors); n != MaxPeerErrors {
		t.Errorf("got %d peer errors kept, want %d", n, MaxPeerErrors)
	}
}
