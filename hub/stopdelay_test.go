package hub_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestCloseCountsDelayedCopies: a hub that stops while a delay rule holds
// copies loses them as its ports go down with it: Close counts each on its
// egress port and its link as port-down, and shows it to the observers
// still attached as a dropped egress at the stop, noted why, so that the
// counters add up (a port's rx is what the others sent plus what they
// dropped, per link) and a capture records every frame's end.
func TestCloseCountsDelayedCopies(t *testing.T) {
	slow := scripted{"slow": func(d *hub.Decision) {
		d.Copies = append(d.Copies, hub.Copy{Delay: 20 * time.Millisecond, Notes: []hub.Note{{Rule: "slow", Action: "delay", Detail: "20ms"}}})
	}}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Policy: slow})
	// Ten frames a->b, one a millisecond, due at 20 to 29ms; the hub stops
	// at 25ms, when the last four are still held.
	for i := range 10 {
		sim.SendAt(time.Duration(i)*time.Millisecond, "a", hubtest.Frame(macB, macA, fmt.Sprintf("slow %d", i)))
	}
	sim.AdvanceTo(25 * time.Millisecond)
	if n, _ := sim.Core().Delayed(); n != 4 {
		t.Fatalf("Delayed() = %d at the stop, want 4", n)
	}
	sim.Core().Close()

	a, b := sim.Stats("a").Snapshot(), sim.Stats("b").Snapshot()
	if got := b.Drops[hub.DropDown.String()]; got != 4 {
		t.Errorf("got b's port-down drops = %d, want 4 (the copies still delayed at the stop)", got)
	}
	var drops uint64
	for _, n := range b.Drops {
		drops += n
	}
	if a.RxFrames != 10 || a.RxFrames != b.TxFrames+drops {
		t.Errorf("got rx a = %d, tx b = %d, drops b = %d; want rx 10 = tx + drops", a.RxFrames, b.TxFrames, drops)
	}
	links := sim.Core().Links()
	if len(links) != 1 || links[0].From != "a" || links[0].To != "b" || links[0].Frames != 6 || links[0].Drops != 4 {
		t.Errorf("got links %+v, want a->b with 6 frames and 4 drops", links)
	}
	var dropped []hub.Event
	for _, ev := range sim.Events() {
		if ev.Dir == hub.Egress && ev.Dropped {
			dropped = append(dropped, ev)
		}
	}
	if len(dropped) != 4 {
		t.Fatalf("got %d dropped egress events, want 4", len(dropped))
	}
	for i, ev := range dropped {
		at := ev.Time.Sub(hub.DefaultEpoch)
		n := ev.Notes[len(ev.Notes)-1]
		if ev.PortName != "b" || at != 25*time.Millisecond || n.Action != "port-down" || !bytes.HasPrefix(ev.Frame[14:], fmt.Appendf(nil, "slow %d\x00", 6+i)) {
			t.Errorf("dropped event %d: got port %s at %v, frame %.6q, last note %+v; want b at 25ms, %q, port-down", i, ev.PortName, at, ev.Frame[14:], n, fmt.Sprintf("slow %d", 6+i))
		}
	}
	if n, by := sim.Core().Delayed(); n != 0 || by != 0 {
		t.Errorf("Delayed() after Close = %d, %d; want 0, 0", n, by)
	}
}
