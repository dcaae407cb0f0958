package checker

import (
	"runtime"
	"testing"
	"time"

	"l2hub/hub"
)

// drained waits until the checking goroutine has taken every queued frame.
func drained(c *Checker) {
	for {
		c.liveMu.Lock()
		q := c.queued
		c.liveMu.Unlock()
		if q == 0 {
			return
		}
		runtime.Gosched()
	}
}

// TestObserveAllocs pins zero allocations per event for Observe, on the hub
// loop, with the hub's notes on full-size frames (every copy a delay,
// corrupt or duplicate rule touches carries them), and for the checking
// goroutine's handling of an event whose notes it has no use for. The
// frames are not IP, so checking them costs nothing of its own.
func TestObserveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race to pin allocations")
	}
	frame := func(n int) []byte {
		b := make([]byte, n)
		copy(b, hostB.mac)
		copy(b[6:], hostA.mac)
		b[12], b[13] = 0x88, 0xb5 // a local experimental EtherType: not IP
		return b
	}
	drop := []hub.Note{{Link: "a->b", Rule: "loss", Action: "drop", Args: hub.NoteArgs{Layout: "p=%v draw=%4", F: [5]float64{0.1, 0.0213}}}}
	held := []hub.Note{
		{Rule: "dup", Action: "duplicate", Args: hub.NoteArgs{Layout: "p=%v draw=%4 copies=%d", F: [5]float64{0.3, 0.1}, N: [4]int64{1}}},
		{Rule: "d", Action: "delay", Args: hub.NoteArgs{Layout: "%t±%t uniform draw=%+t fifo+%t", N: [4]int64{int64(20 * time.Millisecond), int64(5 * time.Millisecond), int64(-4 * time.Millisecond), int64(time.Millisecond)}}},
	}
	for _, tt := range []struct {
		name    string
		size    int
		dir     hub.Direction
		notes   []hub.Note
		dropped bool
	}{
		{"1514-no-notes", 1514, hub.Ingress, nil, false},
		{"1514-dropped-with-a-note", 1514, hub.Ingress, drop, true},
		{"1514-egress-held", 1514, hub.Egress, held, false},
		{"60-dropped-with-a-note", 60, hub.Ingress, drop, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{QueueLen: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ev := hub.Event{Time: hub.DefaultEpoch, PortName: "a", Dir: tt.dir, Frame: frame(tt.size), Notes: tt.notes, Dropped: tt.dropped}
			for range 8 { // every buffer of the free list once
				c.Observe(&ev)
				drained(c)
			}
			allocs := testing.AllocsPerRun(200, func() {
				ev.Time = ev.Time.Add(time.Millisecond)
				c.Observe(&ev)
				drained(c)
			})
			if allocs != 0 {
				t.Errorf("got %v allocations per event, want 0", allocs)
			}
			if r := c.Report(); r.Lost != 0 {
				t.Errorf("got %d events lost, want none", r.Lost)
			}
		})
	}
}

// TestObserveQueueBytesCountNotes: the live queue's byte bound counts the
// notes an event brings along with its frame, as the queue holds both.
func TestObserveQueueBytesCountNotes(t *testing.T) {
	c, err := New(Options{QueueBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := hub.Event{Time: hub.DefaultEpoch, PortName: "a", Dir: hub.Ingress, Frame: make([]byte, 60), Dropped: true,
		Notes: []hub.Note{{Link: "a->b", Rule: "loss", Action: "drop", Detail: "p=0.1 draw=0.05"}}}
	c.Observe(&ev)
	c.Close()
	if r := c.Report(); r.Lost != 1 {
		t.Errorf("got %d events lost, want the one whose frame and notes exceed QueueBytes", r.Lost)
	}
}
