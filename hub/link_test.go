package hub_test

import (
	"reflect"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// dropLink is a policy that drops every frame on one link.
type dropLink struct{ from, to string }

func (p dropLink) Decide(_ time.Duration, l hub.Link, _ []byte, d *hub.Decision) {
	if l.FromName == p.from && l.ToName == p.to {
		d.Drop = true
	}
}

// TestLinkCounters: each ordered pair of ports counts the frames the core
// queued on it and those it dropped on it, whatever dropped them (the
// policy, a full queue, a port without a peer); runts and injected frames
// belong to no link.
func TestLinkCounters(t *testing.T) {
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Policy: dropLink{"a", "b"}})
	s.AddPortWith(t, "c", hub.PortOptions{Overflow: hub.OverflowDrop, QueueLen: 2})
	s.SetReading("c", false)
	if _, err := s.Core().AddPort("d", "no peer", nil); err != nil {
		t.Fatal(err)
	}
	fa, fb := hubtest.Frame(hubtest.Broadcast, macA, "from-a"), hubtest.Frame(hubtest.Broadcast, macB, "from-b")
	for range 5 {
		s.Send("a", fa)
	}
	for range 3 {
		s.Send("b", fb)
	}
	s.Send("b", make([]byte, 10)) // a runt
	a, _ := s.Core().Lookup("a")
	s.Core().Inject(a, hub.FrameOf(hubtest.Frame(macA, macB, "injected")), nil)

	got := s.Core().Links()
	want := []hub.LinkStats{
		{From: "a", To: "b", Drops: 5},
		{From: "a", To: "c", Frames: 2, Bytes: 2 * uint64(len(fa)), Drops: 3},
		{From: "a", To: "d", Drops: 5},
		{From: "b", To: "a", Frames: 3, Bytes: 3 * uint64(len(fb))},
		{From: "b", To: "c", Drops: 3},
		{From: "b", To: "d", Drops: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got Links() =\n%+v\nwant\n%+v", got, want)
	}
	// Every frame queued for a port came over one of its links, but the
	// injected one.
	if st := s.Stats("a").Snapshot(); st.TxFrames != 3+1 {
		t.Errorf("a: %d frames queued, want 3 from b and 1 injected", st.TxFrames)
	}
}

// TestLinksListOnlyPairsWithTraffic: a learning switch's unicast uses one
// pair; pairs that carried nothing, and removed ports, are not listed.
func TestLinksListOnlyPairsWithTraffic(t *testing.T) {
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: []string{"a", "b", "c", "d"}})
	s.Send("b", hubtest.Frame(hubtest.Broadcast, macB, "learn b"))
	for range 4 {
		s.Send("a", hubtest.Frame(macB, macA, "to b"))
	}
	want := []hub.LinkStats{
		{From: "a", To: "b", Frames: 4, Bytes: 4 * uint64(len(hubtest.Frame(macB, macA, "to b")))},
		{From: "b", To: "a", Frames: 1, Bytes: uint64(len(hubtest.Frame(hubtest.Broadcast, macB, "learn b")))},
		{From: "b", To: "c", Frames: 1, Bytes: uint64(len(hubtest.Frame(hubtest.Broadcast, macB, "learn b")))},
		{From: "b", To: "d", Frames: 1, Bytes: uint64(len(hubtest.Frame(hubtest.Broadcast, macB, "learn b")))},
	}
	if got := s.Core().Links(); !reflect.DeepEqual(got, want) {
		t.Errorf("got Links() =\n%+v\nwant\n%+v", got, want)
	}
	c, _ := s.Core().Lookup("c")
	if err := s.Core().RemovePort(c); err != nil {
		t.Fatal(err)
	}
	want = append(want[:2:2], want[3])
	if got := s.Core().Links(); !reflect.DeepEqual(got, want) {
		t.Errorf("after removing c: got Links() =\n%+v\nwant\n%+v", got, want)
	}
}
