package replay

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"l2hub/capture"
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

// TestInjectPacing measures pacing against the wall clock. The bounds are
// generous (a loaded machine is slow); what must hold exactly is that no
// frame leaves before its deadline and that lateness does not accumulate.
func TestInjectPacing(t *testing.T) {
	const n = 100
	data := recordedCapture(t, n, 2*time.Millisecond) // 198ms recorded
	for _, tc := range []struct {
		name    string
		pacing  Pacing
		loop    int
		minTime time.Duration
		step    time.Duration // the schedule's spacing of frames in the first pass
	}{
		{"recorded", Pacing{Speed: 1}, 1, 198 * time.Millisecond, 2 * time.Millisecond},
		{"twice-as-fast-two-passes", Pacing{Speed: 2}, 2, 198 * time.Millisecond, time.Millisecond},
		{"frames-per-second", Pacing{PPS: 1000}, 1, 99 * time.Millisecond, time.Millisecond},
		{"flood", Pacing{}, 3, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := wallclock.Clock{}
			var sendTimes []time.Time
			begin := clock.Now()
			rep, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data), Pacing: tc.pacing, Loop: tc.loop},
				func(frame []byte) error {
					sendTimes = append(sendTimes, clock.Now())
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if want := n * tc.loop; rep.Frames != want || len(sendTimes) != want {
				t.Fatalf("got %d frames sent (%d calls), want %d", rep.Frames, len(sendTimes), want)
			}
			span := sendTimes[len(sendTimes)-1].Sub(sendTimes[0])
			if span < tc.minTime-time.Millisecond || rep.Elapsed > tc.minTime+5*time.Second {
				t.Errorf("frames spanned %v (elapsed %v), want at least %v and not absurdly more", span, rep.Elapsed, tc.minTime)
			}
			if rep.Median < 0 || rep.Worst < rep.Median || rep.WorstFrame < 1 {
				t.Errorf("got drift median %v, worst %v (frame %d); want 0 <= median <= worst", rep.Median, rep.Worst, rep.WorstFrame)
			}
			if tc.minTime > 0 && rep.Median > 50*time.Millisecond {
				t.Errorf("median drift %v: pacing is not keeping to its deadlines", rep.Median)
			}
			// Generous: a shared machine may stall a process for a while,
			// but not for a second.
			if tc.minTime > 0 && rep.Worst > time.Second {
				t.Errorf("worst drift %v (frame %d): pacing lost its deadlines", rep.Worst, rep.WorstFrame)
			}
			// Never early: Inject schedules frame i of the first pass at
			// its own start + i steps, and its start is after ours.
			for i := 1; tc.step > 0 && i < n; i++ {
				if got, want := sendTimes[i].Sub(begin), time.Duration(i)*tc.step; got < want {
					t.Errorf("frame %d sent %v after the call, before its deadline %v", i, got, want)
					break
				}
			}
			t.Logf("%s", rep)
		})
	}
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
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		rep, err := Inject(ctx, InjectConfig{Input: memInput("rec.pcap", data), Pacing: Pacing{Speed: 1}}, func([]byte) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) || rep.Frames != 1 {
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
