package replay

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// injectAt runs Inject on a virtual clock (virtualClock: a wait jumps to
// its deadline) and returns when, from the start, each frame was sent.
func injectAt(t *testing.T, cfg InjectConfig) ([]time.Duration, *InjectReport, error) {
	t.Helper()
	clock := virtualClock{hub.NewVirtualClock(time.Unix(5000, 0))}
	cfg.Clock = clock
	start := clock.Now()
	var sent []time.Duration
	rep, err := Inject(context.Background(), cfg, func([]byte) error {
		sent = append(sent, clock.Now().Sub(start))
		return nil
	})
	return sent, rep, err
}

// stampedCapture is a capture of one frame at each of stamps, seconds
// from the epoch.
func stampedCapture(t *testing.T, stamps ...int) []byte {
	t.Helper()
	var recs []pcapRecord
	for i, s := range stamps {
		recs = append(recs, pcapRecord{time.Duration(s) * time.Second, udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "frame")})
	}
	return writePcap(t, time.Unix(0, 0), recs)
}

// TestInjectClockBackwards: a frame stamped before the frame before it (a
// capture's clock that ran backwards) goes right after that frame, as
// replay sends it at the time reached, and is counted; the frames after it
// keep their recorded spacing from it instead of all going at once when
// the recorded clock has not caught up. A bogus stamp between two normal
// ones makes the next gap long: --max-gap shortens it, and the frames
// after it keep their spacing too.
func TestInjectClockBackwards(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name     string
		stamps   []int
		pacing   Pacing
		sent     []time.Duration
		back     int
		mostBack time.Duration
		short    int
		wantErr  string
	}{
		{"an-hour-back", []int{100000, 100001, 100002, 96403, 96404, 96405, 96406}, Pacing{Speed: 1},
			[]time.Duration{0, s, 2 * s, 2 * s, 3 * s, 4 * s, 5 * s}, 1, 3599 * s, 0, ""},
		{"an-hour-back-twice-as-fast", []int{100000, 100002, 96403, 96405}, Pacing{Speed: 2},
			[]time.Duration{0, s, s, 2 * s}, 1, 3599 * s, 0, ""},
		{"back-twice", []int{10, 20, 15, 16, 5, 7}, Pacing{Speed: 1},
			[]time.Duration{0, 10 * s, 10 * s, 11 * s, 11 * s, 13 * s}, 2, 11 * s, 0, ""},
		{"bogus-stamp-max-gap", []int{100000, 100001, 5, 100002, 100003, 100004, 100005}, Pacing{Speed: 1, MaxGap: s},
			[]time.Duration{0, s, s, 2 * s, 3 * s, 4 * s, 5 * s}, 1, 99996 * s, 1, ""},
		{"bogus-stamp-refused", []int{100000, 100001, 5, 100002, 100003}, Pacing{Speed: 1},
			[]time.Duration{0, s, s}, 1, 99996 * s, 0, "frame 4 (rec.pcap packet 4): recorded 27h46m37s after the frame before it"},
		{"fixed-rate-ignores-stamps", []int{100, 50, 60}, Pacing{PPS: 1},
			[]time.Duration{0, s, 2 * s}, 0, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, rep, err := injectAt(t, InjectConfig{Input: memInput("rec.pcap", stampedCapture(t, tc.stamps...)), Pacing: tc.pacing})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got Inject error %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(sent, tc.sent) {
				t.Errorf("got frames sent at %v, want %v", sent, tc.sent)
			}
			if rep.Back != tc.back || rep.MostBack != tc.mostBack || rep.Shortened != tc.short {
				t.Errorf("got back %d (most %v), %d gaps shortened; want %d (most %v), %d", rep.Back, rep.MostBack, rep.Shortened, tc.back, tc.mostBack, tc.short)
			}
			warned := strings.Join(rep.Warnings(), "\n")
			if want := "the capture's clock ran backwards"; tc.back > 0 && !strings.Contains(warned, want) || tc.back == 0 && warned != "" {
				t.Errorf("got warnings %q, want one saying %q only when a frame is stamped back", warned, want)
			}
		})
	}
}
