package replay

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/internal/wallclock"
)

func TestScheduler(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	// Three frames recorded at 0, 10ms and 30ms, 100 bytes each.
	times := []time.Duration{0, 10 * ms, 30 * ms}
	for _, tc := range []struct {
		name   string
		pacing Pacing
		passes int
		want   []time.Duration
	}{
		{"recorded", Pacing{Speed: 1}, 1, []time.Duration{0, 10 * ms, 30 * ms}},
		{"twice-as-fast", Pacing{Speed: 2}, 1, []time.Duration{0, 5 * ms, 15 * ms}},
		{"half-speed-two-passes", Pacing{Speed: 0.5}, 2, []time.Duration{0, 20 * ms, 60 * ms, 60 * ms, 80 * ms, 120 * ms}},
		{"as-fast-as-possible", Pacing{}, 2, []time.Duration{0, 0, 0, 0, 0, 0}},
		{"frames-per-second", Pacing{PPS: 200, Speed: 1}, 2, []time.Duration{0, 5 * ms, 10 * ms, 15 * ms, 20 * ms, 25 * ms}},
		{"bits-per-second", Pacing{BPS: 800_000}, 1, []time.Duration{0, ms, 2 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler{pacing: tc.pacing}
			var got []time.Duration
			for range tc.passes {
				s.newPass()
				for _, at := range times {
					got = append(got, s.next(t0.Add(at), 100))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got offsets %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("clock-running-backwards", func(t *testing.T) {
		s := scheduler{pacing: Pacing{Speed: 1}}
		s.newPass()
		var got []time.Duration
		for _, at := range []time.Duration{0, 10 * ms, 5 * ms, 20 * ms} {
			got = append(got, s.next(t0.Add(at), 60))
		}
		if want := []time.Duration{0, 10 * ms, 10 * ms, 20 * ms}; !slices.Equal(got, want) {
			t.Errorf("got offsets %v, want %v", got, want)
		}
	})
}

// recordedCapture is an l2hub-style capture of n frames from a, every gap,
// each with its index in the payload, plus an egress copy of each to b.
func recordedCapture(t *testing.T, n int, gap time.Duration) []byte {
	t.Helper()
	var recs []pcapRecord
	for i := range n {
		recs = append(recs, pcapRecord{time.Duration(i) * gap, udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "frame")})
	}
	return writePcap(t, time.Unix(50, 0), recs)
}

// virtualClock is a virtual clock on which waiting jumps to the deadline:
// a timer moves the clock to its time and fires there and then, so the
// schedule runs exactly, and a send that takes time moves the clock on.
type virtualClock struct{ *hub.VirtualClock }

func (c virtualClock) AfterFunc(d time.Duration, f func()) hub.Timer {
	t := c.VirtualClock.AfterFunc(d, func() {})
	t.Stop()
	c.Advance(d)
	f()
	return t
}

// TestInjectSchedule runs Inject on a virtual clock, with sends that take
// no time and sends that stall (as on a loaded machine), against the
// obvious model: frame k leaves at max(its deadline, when the previous
// send returned), where its deadline is the start plus its offset in the
// schedule, and its drift is how late its send returned. Lateness never
// accumulates, no frame leaves early, and the report's drift figures are
// exact.
func TestInjectSchedule(t *testing.T) {
	const n = 100
	const gap = 2 * time.Millisecond
	ms := time.Millisecond
	data := recordedCapture(t, n, gap) // 198ms recorded
	frameLen := 0
	if r, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{}); err == nil {
		if p, err := r.Next(); err == nil {
			frameLen = len(p.Data)
		}
	}
	for _, tc := range []struct {
		name   string
		pacing Pacing
		loop   int
		offset func(k int) time.Duration // frame k's offset from the start, counting across passes
		cost   func(k int) time.Duration // how long sending frame k takes
	}{
		{"recorded", Pacing{Speed: 1}, 1, func(k int) time.Duration { return time.Duration(k) * gap }, nil},
		{"twice-as-fast-two-passes", Pacing{Speed: 2}, 2, func(k int) time.Duration {
			// the second pass starts where the first one's last frame went
			return time.Duration(k/n)*(n-1)*ms + time.Duration(k%n)*ms
		}, nil},
		{"frames-per-second", Pacing{PPS: 1000}, 2, func(k int) time.Duration { return time.Duration(k) * ms }, nil},
		{"bits-per-second", Pacing{BPS: 1e6}, 1, func(k int) time.Duration {
			return time.Duration(float64(k*8*frameLen) / 1e6 * float64(time.Second))
		}, nil},
		{"flood", Pacing{}, 3, func(int) time.Duration { return 0 }, func(int) time.Duration { return 10 * time.Microsecond }},
		{"stall-then-catch-up", Pacing{Speed: 1}, 1, func(k int) time.Duration { return time.Duration(k) * gap },
			func(k int) time.Duration {
				switch {
				case k == 10:
					return 50 * ms // the machine stalls for 50ms in one send
				case k >= 60 && k < 70:
					return 3 * ms // ten sends slower than the frames' spacing
				}
				return 0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := virtualClock{hub.NewVirtualClock(time.Unix(5000, 0))}
			start := clock.Now()
			var sent []time.Duration
			k := 0
			rep, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data), Pacing: tc.pacing, Loop: tc.loop, Clock: clock},
				func([]byte) error {
					sent = append(sent, clock.Now().Sub(start))
					if tc.cost != nil {
						clock.Advance(tc.cost(k))
					}
					k++
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			total := n * tc.loop
			if rep.Frames != total || len(sent) != total {
				t.Fatalf("got %d frames sent (%d calls), want %d", rep.Frames, len(sent), total)
			}
			// The model.
			var prevEnd time.Duration
			drifts := make([]time.Duration, total)
			worst, worstFrame := time.Duration(0), 0
			for k := range total {
				deadline := tc.offset(k)
				at := max(deadline, prevEnd)
				if sent[k] != at {
					t.Fatalf("frame %d left at %v, want %v (deadline %v, previous send returned at %v)", k+1, sent[k], at, deadline, prevEnd)
				}
				prevEnd = at
				if tc.cost != nil {
					prevEnd += tc.cost(k)
				}
				drifts[k] = prevEnd - deadline
				if k == 0 || drifts[k] > worst {
					worst, worstFrame = drifts[k], k+1
				}
			}
			slices.Sort(drifts)
			if rep.Median != drifts[total/2] || rep.Worst != worst || rep.WorstFrame != worstFrame || rep.Elapsed != prevEnd {
				t.Errorf("got median %v, worst %v (frame %d), elapsed %v; want %v, %v (frame %d), %v",
					rep.Median, rep.Worst, rep.WorstFrame, rep.Elapsed, drifts[total/2], worst, worstFrame, prevEnd)
			}
			if want := tc.pacing != (Pacing{}); rep.Paced != want {
				t.Errorf("got Paced %v, want %v", rep.Paced, want)
			}
		})
	}
}

// TestInjectPacingOnTheWallClock runs the real clock and checks only what
// holds however loaded the machine is: every frame is sent, none before
// its deadline, and the drift figures are ordered. How well the deadlines
// are kept is a measurement (the report's), not a test.
func TestInjectPacingOnTheWallClock(t *testing.T) {
	const n = 50
	const gap = 2 * time.Millisecond
	data := recordedCapture(t, n, gap)
	clock := wallclock.Clock{}
	var sendTimes []time.Time
	begin := clock.Now()
	rep, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data), Pacing: Pacing{Speed: 1}},
		func([]byte) error {
			sendTimes = append(sendTimes, clock.Now())
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frames != n || len(sendTimes) != n {
		t.Fatalf("got %d frames sent (%d calls), want %d", rep.Frames, len(sendTimes), n)
	}
	// Inject's start is after begin, so frame i's deadline is too.
	for i, at := range sendTimes {
		if got, want := at.Sub(begin), time.Duration(i)*gap; got < want {
			t.Errorf("frame %d sent %v after the call, before its deadline %v", i+1, got, want)
		}
	}
	if rep.Median < 0 || rep.Worst < rep.Median || rep.WorstFrame < 1 || rep.WorstFrame > n {
		t.Errorf("got drift median %v, worst %v (frame %d); want 0 <= median <= worst", rep.Median, rep.Worst, rep.WorstFrame)
	}
	t.Logf("%s", rep)
}

func TestInjectSelectsAndRewrites(t *testing.T) {
	data := l2hubCapture(t, 60)
	rw, err := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	rep, err := Inject(context.Background(), InjectConfig{Input: memInput("live.pcapng", data), From: "a", Rewrite: rw},
		func(frame []byte) error {
			got = append(got, bytes.Clone(frame))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	// Count what a sent: the ingress copies on interface a.
	rd, _ := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
	var want [][]byte
	for p, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		if p.IfName == "a" && p.Dir == capture.DirIn {
			f := bytes.Clone(p.Data)
			rw.Rewrite(f)
			want = append(want, f)
		}
	}
	if len(want) == 0 || len(got) != len(want) || rep.Skipped == 0 {
		t.Fatalf("got %d frames (skipped %d), want a's %d ingress frames", len(got), rep.Skipped, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d: got % x, want % x", i+1, got[i], want[i])
		}
		if bytes.Contains(got[i][:12], macB[:]) {
			t.Fatalf("frame %d still addressed to b's MAC", i+1)
		}
	}
}

func TestInjectStops(t *testing.T) {
	data := recordedCapture(t, 10, time.Hour)
	t.Run("cancelled-while-waiting", func(t *testing.T) {
		// The frames are an hour apart: cancelling after the first one
		// ends the wall clock's wait for the second.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rep, err := Inject(ctx, InjectConfig{Input: memInput("rec.pcap", data), Pacing: Pacing{Speed: 1}}, func([]byte) error {
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || rep.Frames != 1 {
			t.Errorf("got %d frames, %v; want 1 frame then the context's error", rep.Frames, err)
		}
	})
	t.Run("send-fails", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data)}, func([]byte) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want the send error", err)
		}
	})
	t.Run("truncated-input", func(t *testing.T) {
		n := 0
		rep, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data[:len(data)-5])}, func([]byte) error { n++; return nil })
		if err != nil || n != 9 || rep.Input == nil || !rep.Input.Truncated() {
			t.Errorf("got %d frames, %v, input error %v; want the 9 whole frames and a truncation warning", n, err, rep.Input)
		}
	})
	t.Run("bad-pacing", func(t *testing.T) {
		_, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data), Pacing: Pacing{PPS: 1, BPS: 1}}, func([]byte) error { return nil })
		if !errors.Is(err, ErrPacing) {
			t.Errorf("got %v, want ErrPacing", err)
		}
	})
}

// TestInjectRefusesASelectionOfNothing: --from or --from-mac that keeps none
// of the capture's frames fails before a frame is sent, naming the ports
// and source MACs the capture has; one that keeps frames sends them.
func TestInjectRefusesASelectionOfNothing(t *testing.T) {
	data := l2hubCapture(t, 60)
	stranger := [6]byte{0x52, 0x54, 0x00, 0x99, 0x99, 0x99}
	for _, cfg := range []InjectConfig{
		{From: "zz"},
		{FromMAC: &stranger},
		{From: "a", FromMAC: &macB}, // b's frames never enter at a
	} {
		cfg.Input = memInput("live.pcapng", data)
		sent := 0
		_, err := Inject(context.Background(), cfg, func([]byte) error { sent++; return nil })
		if !errors.Is(err, ErrNoMatch) || sent != 0 {
			t.Fatalf("from %q, MAC %v: %v after %d frames, want ErrNoMatch before any", cfg.From, cfg.FromMAC, err, sent)
		}
		for _, want := range []string{"live.pcapng", "ports a, b, c", macString(macA), macString(macB)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: does not say %q", err, want)
			}
		}
	}
	rep, err := Inject(context.Background(), InjectConfig{Input: memInput("live.pcapng", data), FromMAC: &macB}, func([]byte) error { return nil })
	if err != nil || rep.Frames == 0 {
		t.Errorf("--from-mac b: %v, %+v; want b's frames sent", err, rep)
	}
}
