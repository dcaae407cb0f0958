package loadgen

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slowLine is a target that holds its senders: each VM's first k data
// frames are taken at once and delivered one per millisecond, and the
// write after them blocks until the scenario closes the target, as a hub
// holds a paused sender while it drains that sender's backlog. The
// delivery takes k ms, longer than Run's grace for the senders past the
// end (Duration + 1 s), so the drain begins while frames still arrive.
type slowLine struct{ k int }

func (s *slowLine) Name() string { return "slowline" }

type slowVM struct {
	in     chan []byte
	peer   *slowVM
	n      int // data frames written; the writer's
	line   chan []byte
	closed chan struct{}
	once   *sync.Once
}

func (v *slowVM) ReadFrame(b []byte) (int, error) {
	select {
	case f := <-v.in:
		return copy(b, f), nil
	case <-v.closed:
		return 0, net.ErrClosed
	}
}

func (v *slowVM) WriteFrame(f []byte) error {
	h, _ := parseHeader(f)
	fr := append([]byte(nil), f...)
	if h.kind != kindData {
		select {
		case v.peer.in <- fr:
		case <-v.closed:
			return net.ErrClosed
		}
		return nil
	}
	if v.n++; v.n > cap(v.line) {
		<-v.closed
		return net.ErrClosed
	}
	v.line <- fr
	return nil
}

func (v *slowVM) Close() error { v.once.Do(func() { close(v.closed) }); return nil }

func (s *slowLine) Open(_ context.Context, sc Scenario) (*Net, error) {
	closed, once := make(chan struct{}), &sync.Once{}
	vms := make([]*slowVM, sc.Ports)
	for i := range vms {
		vms[i] = &slowVM{in: make(chan []byte, s.k+1024), line: make(chan []byte, s.k), closed: closed, once: once}
	}
	var wg sync.WaitGroup
	n := &Net{Close: func() error { vms[0].Close(); wg.Wait(); return nil }}
	for i, v := range vms {
		v.peer = vms[partner(i)]
		n.Ports = append(n.Ports, v)
		wg.Go(func() {
			for {
				select {
				case f := <-v.line:
					v.peer.in <- f
					time.Sleep(time.Millisecond)
				case <-closed:
					return
				}
			}
		})
	}
	return n, nil
}

// TestDrainWaitsForAHeldSender: while a sender is held in a write, the
// drain goes on as long as deliveries arrive, so the frames the target
// is still delivering are not counted as lost. (It once stopped as soon as
// the receivers had what the senders last published, every 1024 frames.)
func TestDrainWaitsForAHeldSender(t *testing.T) {
	const k = 1500
	sc := Scenario{Kind: "open", Transport: "x", Size: 64, Ports: 2, Pattern: Unicast, Duration: 50 * time.Millisecond}
	res, err := Run(context.Background(), sc, &slowLine{k: k})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2*k || res.Lost != 0 || res.Received != 2*k {
		t.Errorf("got %d sent, %d received, %d lost; want %d sent, every one received", res.Sent, res.Received, res.Lost, 2*k)
	}
}

// scheduled is how many frames a sender paced at rate has due within d.
func scheduled(rate float64, d time.Duration) uint64 {
	var n uint64
	for int64(float64(n)*1e9/rate) < int64(d) {
		n++
	}
	return n
}

// TestPacedSenderHeldPastTheEnd: a paced sender the target holds across
// the end still writes every frame that fell due meanwhile, each carrying
// its schedule (no coordinated omission: they once were never sent).
func TestPacedSenderHeldPastTheEnd(t *testing.T) {
	const rate = 10000.0
	sc := Scenario{Kind: "latency", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: 100 * time.Millisecond, Rate: rate}
	per := scheduled(rate, sc.Duration)
	const hold = 40 * time.Millisecond
	b := &bus{after: func(_, n int) {
		if n == int(per)*8/10 { // held from 80% of the way to past the end
			time.Sleep(hold)
		}
	}}
	res, err := Run(context.Background(), sc, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2*per || res.Unsent != 0 || res.Lost != 0 {
		t.Errorf("got %d sent, %d unsent, %d lost; want every one of the %d frames due sent and received", res.Sent, res.Unsent, res.Lost, 2*per)
	}
	// The frame due after the held write left at least hold less one
	// interval late, and that counts in its latency.
	if lower := hold - time.Duration(1e9/rate); res.LatencyMax < lower || res.SendLagMax < lower {
		t.Errorf("got latency max %v, send lag max %v; want both >= %v", res.LatencyMax, res.SendLagMax, lower)
	}
}

// TestPacedSenderHeldToTheCloseCountsUnsent: the frames due that a paced
// sender never got to write, held until the target closed, are counted
// and reported, and fail the latency target.
func TestPacedSenderHeldToTheCloseCountsUnsent(t *testing.T) {
	const rate, k = 10000.0, 300
	sc := Scenario{Kind: "latency", Transport: "x", Size: 64, Ports: 2, Pattern: Unicast, Duration: 100 * time.Millisecond, Rate: rate}
	res, err := Run(context.Background(), sc, &slowLine{k: k})
	if err != nil {
		t.Fatal(err)
	}
	per := scheduled(rate, sc.Duration)
	if res.Sent != 2*k || res.Unsent != 2*(per-k) {
		t.Errorf("got %d sent, %d unsent; want %d sent and the other %d due unsent", res.Sent, res.Unsent, 2*k, 2*(per-k))
	}
	res.Baseline, res.Scenario.Target = "direct", "l2hub+policy"
	rep := &Report{Results: []Result{res}, Load: 0.5}
	rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "x")
	var found bool
	for _, c := range rep.Checks {
		if strings.Contains(c.Target, "added p99") {
			found = true
			if c.Pass || !strings.Contains(c.Got, "never sent") {
				t.Errorf("got latency check %+v, want it failed, naming the frames never sent", c)
			}
		}
	}
	if !found {
		t.Errorf("got checks %+v, want a latency check", rep.Checks)
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "frames due never sent") {
		t.Errorf("the table does not show the frames never sent:\n%s", out.String())
	}
}

// TestWindowGiveUpsAreReported: a closed-loop sender whose frames in
// flight never arrive gives up on them once every windowTimeout, but not
// at the end, when it stops sending, and the table and JSON say how
// often. It runs on synctest's clock, so the count is exact under any
// load.
func TestWindowGiveUpsAreReported(t *testing.T) {
	// The bus drops every data frame after the 8th of each VM: the window
	// of 4 never opens again. Over 3.2 windowTimeouts, each sender gives up
	// 3 times; its fourth wait runs into the end, which is no give-up.
	b := &bus{name: "l2hub+drop", copies: func(_, _, n int) int {
		if n > 8 {
			return 0
		}
		return 1
	}}
	sc := Scenario{Kind: "throughput", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: windowTimeout * 32 / 10, Window: 4}
	var res Result
	synctest.Test(t, func(t *testing.T) {
		var err error
		if res, err = Run(context.Background(), sc, b); err != nil {
			t.Fatal(err)
		}
	})
	if want := uint64(2 * 3); res.WindowStalls != want {
		t.Fatalf("got %d window give-ups, want %d: 3 by each sender (%d sent)", res.WindowStalls, want, res.Sent)
	}
	rep := &Report{Results: []Result{res}}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "window give-ups") {
		t.Errorf("the table does not show the window give-ups:\n%s", out.String())
	}
	var js strings.Builder
	res.WindowStalls = 0
	if err := (&Report{Results: []Result{res}}).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"window_stalls": 0`) {
		t.Errorf("the JSON leaves out window_stalls when there are none")
	}
}
