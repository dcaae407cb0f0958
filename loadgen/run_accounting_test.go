package loadgen

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDuplicatesAreNotDeliveries: a fabric that drops every tenth frame
// and duplicates the next one loses a tenth, and the duplicates neither
// count as deliveries nor cancel the loss out.
func TestDuplicatesAreNotDeliveries(t *testing.T) {
	b := &bus{copies: func(_, _, n int) int {
		switch n % 10 {
		case 0:
			return 0
		case 1:
			return 2
		}
		return 1
	}}
	sc := Scenario{Kind: "test", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: 50 * time.Millisecond, Rate: 10000}
	res, err := Run(context.Background(), sc, b)
	if err != nil {
		t.Fatal(err)
	}
	dropped, dups := b.total(b.dropped), b.total(b.duplicated)
	if dropped == 0 || dups == 0 {
		t.Fatalf("the bus dropped %d and duplicated %d frames, want some of both (sent %d)", dropped, dups, res.Sent)
	}
	if res.Lost != dropped || res.Received != res.Sent-dropped {
		t.Errorf("got %d received, %d lost of %d sent, want %d and %d: only first arrivals are deliveries", res.Received, res.Lost, res.Sent, res.Sent-dropped, dropped)
	}
	if res.Duplicates != dups {
		t.Errorf("got %d duplicates, want %d", res.Duplicates, dups)
	}
	if res.Late != 0 || res.Unchecked != 0 {
		t.Errorf("got %d late and %d unchecked, want none: a copy is not a late frame", res.Late, res.Unchecked)
	}
	if got := res.LossRatio; got < 0.05 {
		t.Errorf("got loss %.4f, want the tenth dropped to show", got)
	}
}

// TestFirstArrivalWindow checks the receiver's bookkeeping of arrivals on
// its own: reordered frames are late first arrivals, copies are
// duplicates, wherever they fall in the ring, and frames further back than
// it can tell are counted as unchecked.
func TestFirstArrivalWindow(t *testing.T) {
	r := newRun(Scenario{Ports: 2}, make([]VM, 2))
	rx := r.rx[1]
	for _, tc := range []struct {
		seq   uint64
		first bool
	}{
		{0, true}, {2, true}, {1, true}, {1, false}, {2, false}, {0, false},
		{dupWindow + 5, true},     // jumps past the ring: 3 .. dupWindow+4 missing
		{7, true},                 // still inside it, never arrived
		{7, false},                // a copy
		{4, true},                 // too far back to tell: unchecked
		{dupWindow + 5, false},    // a copy of the newest
		{3 * dupWindow, true},     // far ahead: the ring starts over
		{2*dupWindow + 1, true},   // inside the new ring, missing so far
		{3*dupWindow - 1, true},   // likewise
		{3*dupWindow - 1, false},  // a copy
		{3 * dupWindow, false},    // a copy
		{3*dupWindow + 64, true},  // the next word
		{3*dupWindow + 63, true},  // the one before, late
		{3*dupWindow + 63, false}, // a copy
	} {
		if got := rx.first(0, tc.seq); got != tc.first {
			t.Errorf("frame %d: first arrival %v, want %v", tc.seq, got, tc.first)
		}
	}
	if rx.unchecked != 1 || rx.late != 6 {
		t.Errorf("got %d unchecked and %d late, want 1 and 6", rx.unchecked, rx.late)
	}
}

// TestPacedFramesCarryTheirSchedule: in a paced scenario a frame's latency
// runs from when it was due. A target that blocks the sender's write for a
// while (a full socket buffer) delays every frame due meanwhile, and the
// latency shows it, not only for the frame in the blocked write.
//
// It is driven by sequence, not by how many frames a wall-clock window
// holds: the first write of each VM blocks (every sender writes a first
// frame, however late the machine runs it), and the frame after it, when
// the sender got to write it before the end, was written at least block
// after the first frame was due, so it is at least block less one interval
// late.
func TestPacedFramesCarryTheirSchedule(t *testing.T) {
	const (
		rate  = 2000.0
		block = 5 * time.Millisecond
	)
	var mu sync.Mutex
	stamps := map[int]map[uint64]int64{} // by VM, by sequence number
	b := &bus{
		written: func(vm int, h header) {
			mu.Lock()
			defer mu.Unlock()
			if stamps[vm] == nil {
				stamps[vm] = map[uint64]int64{}
			}
			stamps[vm][h.seq] = h.sent
		},
		// The write returns late after delivering: in the old reckoning
		// no frame carried the delay.
		after: func(_, n int) {
			if n%50 == 1 {
				time.Sleep(block)
			}
		},
	}
	sc := Scenario{Kind: "latency", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: 100 * time.Millisecond, Rate: rate}
	res, err := Run(context.Background(), sc, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stamps[0][0]; !ok {
		t.Fatalf("got frames %v of VM 0 written, want its first", slices.Sorted(maps.Keys(stamps[0])))
	}
	start := stamps[0][0]
	for vm, bySeq := range stamps {
		for seq, sent := range bySeq {
			if want := start + int64(float64(seq)*1e9/rate); sent != want {
				t.Fatalf("VM %d frame %d carries %d, want its scheduled time %d (start %d)", vm, seq, sent, want, start)
			}
		}
	}
	after := 0 // VMs that wrote a frame after their blocked first write
	for _, bySeq := range stamps {
		if _, ok := bySeq[1]; ok {
			after++
		}
	}
	if after == 0 {
		t.Skipf("no VM wrote a frame after its blocked first write before the end (%d frames sent): a machine this starved shows no delay to check", res.Sent)
	}
	lower := block - time.Duration(1e9/rate)
	if res.SendLagMax < lower {
		t.Errorf("got send lag max %v, want >= %v (writes blocked for %v)", res.SendLagMax, lower, block)
	}
	// Every frame delivered: the late one's latency is among them.
	if res.Received == res.Sent && res.LatencyMax < lower {
		t.Errorf("got latency max %v, want >= %v (writes blocked for %v)", res.LatencyMax, lower, block)
	}
}
