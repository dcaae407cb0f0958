package replay

import (
	"bytes"
	"context"
	"errors"
	"math"
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
					got = append(got, mustNext(t, &s, t0.Add(at), 100))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got offsets %v, want %v", got, tc.want)
			}
		})
	}
	// A frame stamped back goes right after the one before it; the next
	// keeps its recorded gap from it (15ms), not from the latest stamp.
	t.Run("clock-running-backwards", func(t *testing.T) {
		s := scheduler{pacing: Pacing{Speed: 1}}
		s.newPass()
		var got []time.Duration
		for _, at := range []time.Duration{0, 10 * ms, 5 * ms, 20 * ms} {
			got = append(got, mustNext(t, &s, t0.Add(at), 60))
		}
		if want := []time.Duration{0, 10 * ms, 10 * ms, 25 * ms}; !slices.Equal(got, want) {
			t.Errorf("got offsets %v, want %v", got, want)
		}
		if s.back != 1 || s.mostBack != 5*ms {
			t.Errorf("got %d frames back (most %v), want 1 (5ms)", s.back, s.mostBack)
		}
	})
}

func mustNext(t *testing.T, s *scheduler, at time.Time, size int) time.Duration {
	t.Helper()
	off, err := s.next(at, size)
	if err != nil {
		t.Fatalf("got next(%v) error %v", at, err)
	}
	return off
}

// Times and rates are input: a gap of centuries at a slow speed saturates
// instead of wrapping round to a negative offset (which sent the frame at
// once), and a wait of more than MaxWait between two frames is refused,
// or shortened to MaxGap when one is given, the frames after it keeping
// their own gaps.
func TestSchedulerLongGaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := time.Millisecond
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		pacing  Pacing
		times   []time.Time
		want    []time.Duration // the offsets given before the error, if any
		wantErr string
		short   int
	}{
		{"a-day-is-kept", Pacing{Speed: 1}, []time.Time{t0, t0.Add(day)}, []time.Duration{0, day}, "", 0},
		{"a-year-is-refused", Pacing{Speed: 1}, []time.Time{t0, t0.Add(ms), t0.Add(ms + 365*day)}, []time.Duration{0, ms},
			"recorded 365 days after the frame before it, a wait of 365 days at recorded timing: more than 24h0m0s (--max-gap shortens long gaps)", 0},
		{"centuries-at-a-tenth", Pacing{Speed: 0.1}, []time.Time{t0, t0.Add(ms), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, []time.Duration{0, 10 * ms},
			"recorded 130 years after the frame before it, a wait of 1300 years at 0.1× recorded timing: more than 24h0m0s", 0},
		{"pcapng-millennia", Pacing{Speed: 1}, []time.Time{t0, time.Date(33000, 1, 1, 0, 0, 0, 0, time.UTC)}, []time.Duration{0},
			"recorded 31029 years after the frame before it", 0},
		{"a-day-at-twice-the-speed", Pacing{Speed: 2}, []time.Time{t0, t0.Add(2 * day)}, []time.Duration{0, day}, "", 0},
		{"shortened", Pacing{Speed: 1, MaxGap: time.Second}, []time.Time{t0, t0.Add(10 * ms), t0.Add(10*ms + 365*day), t0.Add(20*ms + 365*day), t0.Add(2*time.Second + 20*ms + 365*day)},
			[]time.Duration{0, 10 * ms, 1010 * ms, 1020 * ms, 2020 * ms}, "", 2},
		{"shortened-centuries-at-a-tenth", Pacing{Speed: 0.1, MaxGap: time.Second}, []time.Time{t0, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Add(ms)},
			[]time.Duration{0, time.Second, time.Second + 10*ms}, "", 1},
		{"a-frame-in-twelve-days", Pacing{PPS: 1e-6}, []time.Time{t0, t0}, []time.Duration{0},
			"a wait of 12 days after the frame before it at 1e-06 frames/s: more than 24h0m0s", 0},
		{"a-frame-in-millennia-at-a-bit-rate", Pacing{BPS: 1e-9}, []time.Time{t0, t0}, []time.Duration{0},
			"a wait of 25350 years after the frame before it at 1e-09 bit/s", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scheduler{pacing: tc.pacing}
			s.newPass()
			var got []time.Duration
			var err error
			for _, at := range tc.times {
				var off time.Duration
				if off, err = s.next(at, 100); err != nil {
					break
				}
				got = append(got, off)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got offsets %v, want %v", got, tc.want)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got error %v, want %q", err, tc.wantErr)
			}
			if s.shortened != tc.short {
				t.Errorf("got %d gaps shortened, want %d", s.shortened, tc.short)
			}
		})
	}
}

// Offsets past what a Duration holds stay at the largest: a frame 300
// years off waits (for ever), it is not sent at once. Go's conversion of
// too large a float64 gives the smallest Duration on amd64.
func TestSchedulerSaturates(t *testing.T) {
	const most = time.Duration(math.MaxInt64)
	for _, tc := range []struct {
		ns   float64
		want time.Duration
	}{{1e30, most}, {-1e30, math.MinInt64}, {math.MaxInt64, most}, {1.5e9, 1500 * time.Millisecond}} {
		if got := saturate(tc.ns); got != tc.want {
			t.Errorf("got saturate(%g) = %v, want %v", tc.ns, got, tc.want)
		}
	}
	for _, tc := range []struct{ a, b, want time.Duration }{{most, 1, most}, {most - 5, 10, most}, {math.MinInt64, -1, math.MinInt64}, {3, -5, -2}} {
		if got := addSat(tc.a, tc.b); got != tc.want {
			t.Errorf("got addSat(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	// A frame every 23 hours: the 115,000th is 300 years on.
	s := scheduler{pacing: Pacing{PPS: 1.0 / (23 * 3600)}}
	s.newPass()
	var off time.Duration
	for range 115_000 {
		off = mustNext(t, &s, time.Unix(0, 0), 60)
	}
	if off != most {
		t.Errorf("got the 115,000th frame at %v, want %v", off, most)
	}
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

// A capture whose clock jumps a year between two frames stops Inject at
// that frame, naming it, after sending the ones before; with a maximum gap
// the jump is shortened and the frames after it keep their own gaps.
func TestInjectLongGap(t *testing.T) {
	ms := time.Millisecond
	year := 365 * 24 * time.Hour
	var recs []pcapRecord
	for i, at := range []time.Duration{0, ms, year + ms, year + 3*ms} {
		recs = append(recs, pcapRecord{at, udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "frame")})
	}
	data := writePcap(t, time.Unix(50, 0), recs)
	for _, tc := range []struct {
		name    string
		pacing  Pacing
		sent    []time.Duration
		wantErr string
		report  string
	}{
		{"refused", Pacing{Speed: 1}, []time.Duration{0, ms},
			"frame 3 (rec.pcap packet 3): recorded 365 days after the frame before it, a wait of 365 days at recorded timing: more than 24h0m0s (--max-gap shortens long gaps)", "sent 2 frames"},
		{"shortened", Pacing{Speed: 1, MaxGap: time.Second}, []time.Duration{0, ms, time.Second + ms, time.Second + 3*ms},
			"", "; 1 of the gaps shortened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := virtualClock{hub.NewVirtualClock(time.Unix(5000, 0))}
			start := clock.Now()
			var sent []time.Duration
			rep, err := Inject(context.Background(), InjectConfig{Input: memInput("rec.pcap", data), Pacing: tc.pacing, Clock: clock},
				func([]byte) error {
					sent = append(sent, clock.Now().Sub(start))
					return nil
				})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("got Inject error %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(sent, tc.sent) {
				t.Errorf("got frames sent at %v, want %v", sent, tc.sent)
			}
			if rep == nil || !strings.Contains(rep.String(), tc.report) {
				t.Errorf("got report %v, want one saying %q", rep, tc.report)
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
