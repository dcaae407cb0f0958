package hub_test

import (
	"testing"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestSplitHorizon: frames never go between two ports of one split-horizon
// group (the VXLAN ports of one overlay), flooded or learned, and still go
// between the group and every other port.
func TestSplitHorizon(t *testing.T) {
	for _, mode := range []hub.Mode{hub.ModeSwitch, hub.ModeHub} {
		t.Run(mode.String(), func(t *testing.T) {
			s := hubtest.New(t, hubtest.Config{Mode: mode, Ports: []string{"a"}})
			s.AddPortWith(t, "x1", hub.PortOptions{Horizon: "vxlan/42"})
			s.AddPortWith(t, "x2", hub.PortOptions{Horizon: "vxlan/42"})
			macX2 := hubtest.MAC("02:00:00:00:00:22")
			count := func() map[string]int {
				m := map[string]int{}
				for _, p := range []string{"a", "x1", "x2"} {
					m[p] = len(s.Take(p))
				}
				return m
			}
			s.Send("x2", hubtest.Frame(hubtest.Broadcast, macX2, "hello from behind x2"))
			if got := count(); got["a"] != 1 || got["x1"] != 0 {
				t.Errorf("a broadcast from x2 reached %v, want a only", got)
			}
			s.Send("x1", hubtest.Frame(macX2, macA, "to x2's host"))
			if got := count(); got["a"] != 0 && mode == hub.ModeSwitch || got["x2"] != 0 {
				t.Errorf("a unicast from x1 to a host behind x2 reached %v, want not x2", got)
			}
			s.Send("a", hubtest.Frame(hubtest.Broadcast, macB, "from a"))
			if got := count(); got["x1"] != 1 || got["x2"] != 1 {
				t.Errorf("a broadcast from a reached %v, want x1 and x2", got)
			}
			if mode == hub.ModeSwitch && s.Stats("x1").Drops(hub.DropSplitHorizon) != 1 {
				t.Errorf("x1 counted %d split-horizon drops, want 1", s.Stats("x1").Drops(hub.DropSplitHorizon))
			}
		})
	}
}

// originObserver keeps the notes of ingress events.
type originObserver struct{ notes [][]hub.Note }

func (o *originObserver) Observe(ev *hub.Event) {
	if ev.Dir == hub.Ingress {
		o.notes = append(o.notes, append([]hub.Note(nil), ev.Notes...))
	}
}

// TestFrameOriginIsShown: where a transport says a frame came from (a VXLAN
// port's remote VTEP) is shown with its ingress, as a capture comment.
func TestFrameOriginIsShown(t *testing.T) {
	obs := &originObserver{}
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Observers: []hub.Observer{obs}})
	a, _ := c.AddPort("a", "", hub.Discard{})
	c.AddPort("b", "", hub.Discard{})
	f := hub.FrameOf(hubtest.Frame(macB, macA, "x"))
	f.SetOrigin("vtep 10.0.0.2")
	c.Ingress(a, f)
	c.Ingress(a, hub.FrameOf(hubtest.Frame(macB, macA, "y"))) // a recycled frame has none
	if len(obs.notes) != 2 || hub.FormatNotes(obs.notes[0]) != "from (vtep 10.0.0.2)" || len(obs.notes[1]) != 0 {
		t.Errorf("ingress notes %v, want the origin on the first frame only", obs.notes)
	}
}
