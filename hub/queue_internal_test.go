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

// TestQueueCountsBuffers: a queue's bytes are what its frames hold in
// memory, their buffers' size, not their length: a frame just over the
// jumbo class holds a 69 636-byte buffer.
func TestQueueCountsBuffers(t *testing.T) {
	st := new(PortStats)
	q := newEgress(4, 0, st)
	for _, n := range []int{64, 9300} {
		q.Enqueue(FrameOf(make([]byte, n)))
	}
	if got, want := q.Depth().Bytes, frameClasses[0]+frameClasses[2]; got != want {
		t.Errorf("got Depth().Bytes = %d for frames of 64 and 9300 bytes, want their buffers' %d", got, want)
	}
	q.discard(st)
	if got := q.Depth().Bytes; got != 0 {
		t.Errorf("got Depth().Bytes = %d once empty, want 0", got)
	}
}
