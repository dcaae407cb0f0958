package loadgen

import (
	"context"
	"maps"
	"net"
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

// TestFillSumsBroadcastDeliveries: fill sums every receiver's counts; for
// a broadcast to three VMs (two deliveries per frame) the loss ratio is
// lost deliveries over expected ones, not over frames sent, the rate is
// deliveries (not frames sent) over the longer of the send time and the
// last arrival, and p99 is the 99th percentile.
func TestFillSumsBroadcastDeliveries(t *testing.T) {
	r := newRun(Scenario{Ports: 3, Pattern: Broadcast, Size: 64, Duration: time.Second}, make([]VM, 3))
	for i := range 3 {
		r.sent[i].Store(100)
	}
	r.rx[0].got.Store(190) // 10 of VM 1's and 2's 200 frames lost at VM 0
	r.rx[1].got.Store(200)
	r.rx[2].got.Store(200)
	r.rx[0].late, r.rx[1].unchecked, r.rx[2].duplicates = 3, 4, 5
	for v := 1; v <= 1000; v++ {
		r.rx[0].lat.Record(time.Duration(v) * time.Microsecond)
	}
	r.start = int64(time.Second)
	r.sendEnd = r.start + int64(time.Second)
	r.rx[1].lastRx.Store(r.start + int64(time.Second/2)) // the last delivery, before the senders' end
	var res Result
	r.fill(&res)
	if res.Sent != 300 || res.Expected != 600 || res.Received != 590 || res.Lost != 10 || res.Fanout != 2 {
		t.Errorf("got sent %d expected %d received %d lost %d fan-out %d, want 300 600 590 10 2",
			res.Sent, res.Expected, res.Received, res.Lost, res.Fanout)
	}
	if want := 10.0 / 600; res.LossRatio != want {
		t.Errorf("got loss ratio %v, want %v (lost deliveries over expected deliveries)", res.LossRatio, want)
	}
	if res.Late != 3 || res.Unchecked != 4 || res.Duplicates != 5 {
		t.Errorf("got late %d unchecked %d duplicates %d, want 3 4 5", res.Late, res.Unchecked, res.Duplicates)
	}
	if res.Elapsed != time.Second || res.Rate != 590 {
		t.Errorf("got elapsed %v rate %v, want 1s (the send time) and 590 deliveries/s", res.Elapsed, res.Rate)
	}
	if p := res.LatencyP99; p < 985*time.Microsecond || p > 995*time.Microsecond {
		t.Errorf("got p99 %v of 1µs..1ms, want about 990µs", p)
	}
}

// scripted is a VM that reads the given frames in turn, then fails as a
// closed port does.
type scripted struct{ frames [][]byte }

func (s *scripted) ReadFrame(b []byte) (int, error) {
	if len(s.frames) == 0 {
		return 0, net.ErrClosed
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return copy(b, f), nil
}
func (s *scripted) WriteFrame([]byte) error { return nil }
func (s *scripted) Close() error            { return nil }

// frameOf is a generator frame of the given kind from sender, stamped
// with seq and its send time.
func frameOf(dst [6]byte, sender int, kind byte, seq uint64, sent int64) []byte {
	b := make([]byte, HeaderLen)
	putHeader(b, dst, sender, kind)
	stamp(b, seq, sent)
	return b
}

// TestReceiverSortsFrames: a receiver counts a delivery with its arrival
// time (the rate runs to the last one), counts toward the rate from From
// on only the frames sent from then, and takes a frame naming a sender the
// scenario does not have, a hello included, for a foreign one.
func TestReceiverSortsFrames(t *testing.T) {
	r := newRun(Scenario{Ports: 2, Pattern: Unicast, From: time.Second}, make([]VM, 2))
	r.start = mono()
	early, late := r.start, r.start+int64(2*time.Second)
	rx := r.rx[1]
	before := mono()
	rx.run(&scripted{frames: [][]byte{
		frameOf(MAC(1), 0, kindData, 0, early),
		frameOf(MAC(1), 0, kindData, 1, late),
		frameOf(MAC(1), 2, kindHello, 0, early), // sender 2 of VMs 0 and 1
		frameOf(MAC(1), 2, kindData, 0, early),
	}}, r)
	if got := rx.got.Load(); got != 2 {
		t.Errorf("got %d deliveries, want 2", got)
	}
	if got := rx.gotFrom.Load(); got != 1 {
		t.Errorf("got %d deliveries from From on, want 1 (the frame sent 2s in)", got)
	}
	if at := rx.lastRx.Load(); at < before {
		t.Errorf("got last arrival %d, want the time of the last delivery (>= %d)", at, before)
	}
	if rx.foreign != 2 {
		t.Errorf("got %d foreign frames, want 2 (sender index out of range)", rx.foreign)
	}
}
