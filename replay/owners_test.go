package replay

import (
	"testing"
	"time"
)

// TestGuessedOwnersAreSpreadOverTheInputs: when nothing tells two
// inputs' MACs apart (each input holds every frame at the same stamps),
// each MAC is guessed to an input that owns none yet, not all to the
// first: every per-VM input is a VM that sent something, and b's frames
// replayed from a's file would enter on a's port.
func TestGuessedOwnersAreSpreadOverTheInputs(t *testing.T) {
	s := newSampler()
	at := func(d time.Duration) time.Time { return time.Unix(1000, 0).Add(d) }
	fa := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "from a")
	fb := udpFrame(t, macB, macA, ipB, ipA, 2, 1, 1, "from b")
	for ch := range 2 {
		s.add(ch, fa, at(0))
		s.add(ch, fb, at(time.Second))
	}
	owners := s.infer([]int{0, 1})
	if o := owners[macA]; o.ch != 0 || o.how != ownerFirst {
		t.Errorf("got %s's owner %+v, want input 0, guessed", macString(macA), o)
	}
	if o := owners[macB]; o.ch != 1 || o.how != ownerFirst {
		t.Errorf("got %s's owner %+v, want input 1 (which owns nothing else), guessed", macString(macB), o)
	}
}
