package hub_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// Boundaries the core must get exactly right: the largest frame a peer
// takes, the smallest frame there is, the learning table's size and age,
// and which counter a byte goes to.

// sized returns a unicast frame from macA to macB of exactly n bytes.
func sized(n int) *hub.Frame {
	f := hub.NewFrame(n)
	b := f.Bytes()
	clear(b)
	copy(b, macB[:])
	copy(b[6:], macA[:])
	return f
}

// TestFrameAtThePeersLimitIsDelivered: a frame of exactly the peer's limit
// (a VXLAN port's inner MTU, 1464 on a 1500-byte underlay: a guest's
// full-size frame at host_mtu=1450) is queued; one byte more is oversize.
func TestFrameAtThePeersLimitIsDelivered(t *testing.T) {
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &limitedQueue{max: 100}
	b, _ := c.AddPort("b", "", q)
	c.Ingress(a, sized(100))
	st := c.Stats(b)
	if len(q.frames) != 1 || st.TxFrames.Load() != 1 || st.Drops(hub.DropOversize) != 0 {
		t.Errorf("a 100-byte frame to a peer taking 100: queued %d, tx %d, oversize %d; want 1, 1, 0",
			len(q.frames), st.TxFrames.Load(), st.Drops(hub.DropOversize))
	}
	c.Ingress(a, sized(101))
	if len(q.frames) != 1 || st.Drops(hub.DropOversize) != 1 {
		t.Errorf("a 101-byte frame to a peer taking 100: queued %d in all, oversize %d; want 1, 1",
			len(q.frames), st.Drops(hub.DropOversize))
	}
	hub.ReleaseAll(q.frames)
}

// TestRuntBoundary: a bare Ethernet header (14 bytes, what the transports
// accept as their smallest frame) is forwarded; 13 bytes is a runt.
func TestRuntBoundary(t *testing.T) {
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &manualQueue{}
	c.AddPort("b", "", q)
	c.Ingress(a, sized(hub.EthHeaderLen-1))
	if got := c.Stats(a).Drops(hub.DropRunt); got != 1 || len(q.frames) != 0 {
		t.Errorf("13-byte frame: runt drops %d, delivered %d; want 1, 0", got, len(q.frames))
	}
	c.Ingress(a, sized(hub.EthHeaderLen))
	if got := c.Stats(a).Drops(hub.DropRunt); got != 1 || len(q.frames) != 1 || q.frames[0].Len() != hub.EthHeaderLen {
		t.Errorf("14-byte frame: runt drops %d, delivered %d; want 1, the frame", got, len(q.frames))
	}
	hub.ReleaseAll(q.frames)
}

// TestGroupSourceIsNeverLearned: a frame whose source is a group address
// (a buggy or hostile peer) takes no place in the learning table, so it
// cannot fill it and keep real MACs from being learned.
func TestGroupSourceIsNeverLearned(t *testing.T) {
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), MaxMACs: 1})
	a, _ := c.AddPort("a", "", hub.Discard{})
	qb, qc := &manualQueue{}, &manualQueue{}
	b, _ := c.AddPort("b", "", qb)
	c.AddPort("c", "", qc)
	group := hubtest.MAC("01:00:5e:00:00:01")
	c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, group, "g")))
	if p, ok := c.LearnedPort(group); ok {
		t.Errorf("group source learned on port %d", p)
	}
	c.Ingress(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macB, "b")))
	if p, ok := c.LearnedPort(macB); !ok || p != b {
		t.Fatalf("got LearnedPort(macB) = %d, %v, want %d, true (a table of 1 that the group source did not fill)", p, ok, b)
	}
	hub.ReleaseAll(qb.frames)
	hub.ReleaseAll(qc.frames)
	qb.frames, qc.frames = nil, nil
	c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "to b")))
	if len(qb.frames) != 1 || len(qc.frames) != 0 {
		t.Errorf("unicast to b: b got %d, c got %d; want 1, 0", len(qb.frames), len(qc.frames))
	}
	hub.ReleaseAll(qb.frames)
}

// TestLearningTableHoldsMaxMACs: a table of MaxMACs entries learns no more
// until one ages out.
func TestLearningTableHoldsMaxMACs(t *testing.T) {
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), MaxMACs: 2})
	a, _ := c.AddPort("a", "", hub.Discard{})
	c.AddPort("b", "", hub.Discard{})
	macs := [][6]byte{macA, macB, macC}
	for _, m := range macs {
		c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, m, "")))
	}
	var learned []bool
	for _, m := range macs {
		_, ok := c.LearnedPort(m)
		learned = append(learned, ok)
	}
	if want := []bool{true, true, false}; !slices.Equal(learned, want) {
		t.Errorf("learned %v with MaxMACs 2, want %v", learned, want)
	}
}

// TestLearnedPortAges: LearnedPort forgets a MAC as soon as it has aged
// out, not when the table is next swept (every half aging time).
func TestLearnedPortAges(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: clock, AgingTime: 10 * time.Second})
	a, _ := c.AddPort("a", "", hub.Discard{})
	c.AddPort("b", "", hub.Discard{})
	c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macA, "")))
	clock.Advance(10 * time.Second)
	if p, ok := c.LearnedPort(macA); !ok || p != a {
		t.Errorf("after the aging time: got LearnedPort = %d, %v, want %d, true", p, ok, a)
	}
	clock.Advance(time.Nanosecond)
	if p, ok := c.LearnedPort(macA); ok {
		t.Errorf("past the aging time: got LearnedPort = %d, true, want aged out", p)
	}
}

// TestStatsSnapshotCountsBothDirections: what a port received and what it
// sent are counted apart, in frame bytes (not the buffers that hold them).
func TestStatsSnapshotCountsBothDirections(t *testing.T) {
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	c.Ingress(a, sized(100))
	if got, want := c.Stats(a).Snapshot(), (hub.StatsSnapshot{RxFrames: 1, RxBytes: 100}); !snapEqual(got, want) {
		t.Errorf("got a's snapshot %+v, want %+v", got, want)
	}
	if got, want := c.Stats(b).Snapshot(), (hub.StatsSnapshot{TxFrames: 1, TxBytes: 100}); !snapEqual(got, want) {
		t.Errorf("got b's snapshot %+v, want %+v", got, want)
	}
}

func snapEqual(a, b hub.StatsSnapshot) bool {
	return reflect.DeepEqual(a, b)
}

// TestStatsSnapshotJSONNames: the field names that ctl, the JSON status and
// the metrics show.
func TestStatsSnapshotJSONNames(t *testing.T) {
	s := hub.StatsSnapshot{RxFrames: 1, RxBytes: 2, TxFrames: 3, TxBytes: 4, Drops: map[string]uint64{"runt": 5},
		Attaches: 6, Refused: 7, Pauses: 8, Paused: 9, Stalls: 10, MACMoves: 11}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"rx_frames": 1, "rx_bytes": 2, "tx_frames": 3, "tx_bytes": 4, "attaches": 6,
		"refused": 7, "pauses": 8, "paused_ns": 9, "stalls": 10, "mac_moves": 11}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("got %s = %v, want %v (in %s)", k, got[k], v, b)
		}
	}
	if len(got) != len(want)+1 {
		t.Errorf("got fields %s, want %d", b, len(want)+1)
	}
}

// TestDetachCountsTheCurrentPause: a sender paused when its own port is
// detached has the pause so far added to paused_ns, and is no longer paused.
func TestDetachCountsTheCurrentPause(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Hour})
	a, _ := c.AddPort("a", "", hub.Discard{})
	q := &manualQueue{}
	c.AddPort("b", "", q)
	for range 4 {
		c.Ingress(a, sized(60))
	}
	if !c.Paused(a) {
		t.Fatal("a not paused by a full queue")
	}
	clock.Advance(time.Second)
	if err := c.SetEgress(a, nil); err != nil {
		t.Fatal(err)
	}
	if c.Paused(a) {
		t.Error("a still paused after its port was detached")
	}
	if got := c.Stats(a).Snapshot().Paused; got < time.Second {
		t.Errorf("got paused_ns %v after a 1s pause ended by detach, want at least 1s", got)
	}
	hub.ReleaseAll(q.frames)
}

// TestNoteArgsFormat: a note's numbers as captures and logs show them:
// fractions to 4 significant digits, signed times with their sign, + for 0.
func TestNoteArgsFormat(t *testing.T) {
	n := hub.Note{Action: "x", Args: hub.NoteArgs{Layout: "d=%4 o=%+t n=%+t", F: [5]float64{2.0 / 3}, N: [4]int64{0, -1e6}}}
	if got, want := n.DetailText(), "d=0.6667 o=+0s n=-1ms"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestConfigRefusesWhatCannotWork: settings a library caller could pass
// that behave like nothing documented are refused, not silently bent.
func TestConfigRefusesWhatCannotWork(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	if _, err := hub.New(hub.Config{Clock: clock, MaxFrame: hub.EthHeaderLen - 1}); err == nil {
		t.Errorf("got New(MaxFrame: %d) = nil error, want refused", hub.EthHeaderLen-1)
	}
	if _, err := hub.New(hub.Config{Clock: clock, MaxFrame: hub.EthHeaderLen}); err != nil {
		t.Errorf("got New(MaxFrame: %d) = %v, want accepted", hub.EthHeaderLen, err)
	}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock})
	for _, tc := range []struct {
		name string
		o    hub.PortOptions
	}{
		{"overflow", hub.PortOptions{Overflow: hub.OverflowDrop + 1}},
		{"queue", hub.PortOptions{QueueLen: -1}},
	} {
		if _, err := c.AddPortWith(tc.name, "", hub.Discard{}, tc.o); err == nil {
			t.Errorf("got AddPortWith(%+v) = nil error, want refused", tc.o)
		}
	}
}

// TestForwardingIgnoresAgedEntries: a unicast frame to a MAC whose entry
// has aged out, but that no sweep has removed yet, is flooded, not sent
// to the port it was last seen on.
func TestForwardingIgnoresAgedEntries(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeSwitch, Clock: clock, AgingTime: 10 * time.Second})
	a, _ := c.AddPort("a", "", hub.Discard{})
	b, _ := c.AddPort("b", "", hub.Discard{})
	qc := &manualQueue{}
	c.AddPort("c", "", qc)
	c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macA, "")))
	clock.Advance(10 * time.Second)
	c.Ingress(b, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macB, ""))) // a sweep: macA is 10s old, kept
	clock.Advance(time.Nanosecond)
	hub.ReleaseAll(qc.frames)
	qc.frames = nil
	c.Ingress(b, hub.FrameOf(hubtest.Frame(macA, macB, "to a")))
	if len(qc.frames) != 1 {
		t.Errorf("unicast to a MAC aged out 1ns ago: c got %d frames, want 1 (flooded)", len(qc.frames))
	}
	hub.ReleaseAll(qc.frames)
}

// dropTo is a policy that drops every frame on the links to one port.
type dropTo string

func (p dropTo) Decide(_ time.Duration, l hub.Link, _ []byte, d *hub.Decision) {
	d.Drop = l.ToName == string(p) || p == "*"
}

// ingressDrops records, for each ingress event, whether it was dropped.
type ingressDrops []bool

func (r *ingressDrops) Observe(ev *hub.Event) {
	if ev.Dir == hub.Ingress {
		*r = append(*r, ev.Dropped)
	}
}

// TestIngressIsDroppedOnlyWhenNothingWasDelivered: an observer sees an
// arriving frame as dropped when the policy dropped it on every link, not
// when it dropped it on some and delivered it on others.
func TestIngressIsDroppedOnlyWhenNothingWasDelivered(t *testing.T) {
	for _, tc := range []struct {
		drop string
		want bool
	}{{"b", false}, {"*", true}} {
		rec := &ingressDrops{}
		c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Observers: []hub.Observer{rec}})
		c.SetPolicy(dropTo(tc.drop))
		a, _ := c.AddPort("a", "", hub.Discard{})
		c.AddPort("b", "", hub.Discard{})
		c.AddPort("c", "", hub.Discard{})
		c.Ingress(a, hub.FrameOf(hubtest.Frame(hubtest.Broadcast, macA, "")))
		if len(*rec) != 1 || (*rec)[0] != tc.want {
			t.Errorf("policy dropping on links to %q: got ingress dropped %v, want [%v]", tc.drop, *rec, tc.want)
		}
	}
}
