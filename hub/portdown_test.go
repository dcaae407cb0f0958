package hub_test

import (
	"testing"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestPortDownDropsAreObserved: a frame for a port with no VM attached is
// counted port-down and shown to observers (the capture) as a dropped
// egress copy that says why, as every other drop is; the capture of a
// duplicated frame then accounts for each copy.
func TestPortDownDropsAreObserved(t *testing.T) {
	s := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b", "c"}})
	c, _ := s.Core().Lookup("c")
	if err := s.Core().SetEgress(c, nil); err != nil {
		t.Fatal(err)
	}
	s.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "hello"))
	s.Advance(0)
	if got := len(s.Received("b")); got != 1 {
		t.Fatalf("b got %d frames, want 1", got)
	}
	if got := s.Stats("c").Drops(hub.DropDown); got != 1 {
		t.Errorf("c counted %d port-down drops, want 1", got)
	}
	var down []hub.Event
	for _, ev := range s.Events() {
		if ev.Dir == hub.Egress && ev.PortName == "c" {
			down = append(down, ev)
		}
	}
	const want = "port-down (no VM attached to the port)"
	if len(down) != 1 || !down[0].Dropped || down[0].Comment() != want {
		t.Fatalf("got egress events on c %+v, want one dropped with comment %q", down, want)
	}
}
