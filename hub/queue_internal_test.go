package hub

import "testing"

// TestFullRingCountsBacklogFull: a frame the ring cannot take (the core's
// bound and the ring's capacity disagree: a bug) is counted as what it is,
// the port's bound reached, not lost silently; the frames in the ring stay.
func TestFullRingCountsBacklogFull(t *testing.T) {
	st := new(PortStats)
	q := newEgress(2, 0, st)
	for range 3 {
		q.Enqueue(FrameOf(make([]byte, 60)))
	}
	if got := st.Drops(DropBacklogFull); got != 1 || q.len() != 2 {
		t.Errorf("a ring of 2 given 3 frames holds %d and counted %d backlog-full; want 2 and 1", q.len(), got)
	}
	q.discard(st)
}
