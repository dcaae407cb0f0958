package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/control"
	"l2hub/control/controltest"
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

// cutRecord is a record of a capture taken with a snaplen: the first bytes
// of a frame of orig bytes (0: all of them), 1ms after the one before.
type cutRecord struct {
	data []byte
	orig int
}

// cutCapture writes recs as a classic pcap with a snaplen of 262144 (so a
// record may hold more than a hub takes).
func cutCapture(t *testing.T, recs ...cutRecord) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(50, 0).Add(time.Duration(i) * time.Millisecond), CaptureLength: len(r.data), Length: max(r.orig, len(r.data))}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// sized is a frame from a to b of n bytes, its payload counting up so
// that padding with zeros shows.
func sized(t *testing.T, n int) []byte {
	t.Helper()
	f := udpFrame(t, macA, macB, ipA, ipB, 1, 2, 7, "frame")
	for len(f) < n {
		f = append(f, byte(len(f)))
	}
	return f[:n]
}

// TestInjectCutRecords: a record cut short by a snaplen is sent at its
// length on the wire, the bytes the capture lacks as zeros, as replay's
// frameOf gives it to the hub, and counted; one that claims more than a
// hub takes goes as recorded. A record shorter than an Ethernet header, or
// longer than the hub takes, is counted and not sent, and the frames after
// it are.
func TestInjectCutRecords(t *testing.T) {
	full := sized(t, 1500)
	data := cutCapture(t,
		cutRecord{full[:64], 1500},                  // tcpdump -s 64
		cutRecord{full[:10], 0},                     // a runt
		cutRecord{full[:10], 60},                    // -s 10: padded to 60
		cutRecord{sized(t, 70000), 0},               // more than a hub takes
		cutRecord{full[:100], 0},                    // whole
		cutRecord{full[:100], 100000},               // a corrupt length: as recorded
		cutRecord{full[:8], 12},                     // a runt even at its length on the wire
		cutRecord{sized(t, hub.DefaultMaxFrame), 0}, // the most a hub takes
	)
	var got [][]byte
	rep, err := Inject(context.Background(), InjectConfig{Input: memInput("snap.pcap", data)}, func(frame []byte) error {
		got = append(got, bytes.Clone(frame))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pad := func(b []byte, n int) []byte { return append(bytes.Clone(b), make([]byte, n-len(b))...) }
	want := [][]byte{pad(full[:64], 1500), pad(full[:10], 60), full[:100], full[:100], sized(t, hub.DefaultMaxFrame)}
	if len(got) != len(want) {
		t.Fatalf("got %d frames sent, want %d", len(got), len(want))
	}
	var bytesWant int64
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d: got %d bytes (% x...), want %d (% x...)", i+1, len(got[i]), got[i][:min(len(got[i]), 16)], len(want[i]), want[i][:min(len(want[i]), 16)])
		}
		bytesWant += int64(len(want[i]))
	}
	if rep.Frames != len(want) || rep.Bytes != bytesWant || rep.Cut != 3 || rep.CutTooLong != 1 || rep.Runts != 2 || rep.Oversize != 1 {
		t.Errorf("got %d frames (%d bytes), cut %d (%d too long), runts %d, oversize %d; want %d (%d), 3 (1), 2, 1",
			rep.Frames, rep.Bytes, rep.Cut, rep.CutTooLong, rep.Runts, rep.Oversize, len(want), bytesWant)
	}
	warned := strings.Join(rep.Warnings(), "\n")
	for _, w := range []string{
		"3 of the frames sent were cut short when captured",
		"1 of them claim more than 69632 bytes and were sent as recorded",
		"3 records were not sent, as the hub would refuse them: 2 shorter than an Ethernet header (14 bytes), 1 longer than 69632 bytes",
	} {
		if !strings.Contains(warned, w) {
			t.Errorf("got warnings %q, want one saying %q", warned, w)
		}
	}
}

// TestInjectBitRateOnTheLengthOnTheWire: --bps paces a cut record on its
// length on the wire, not on the bytes the capture kept.
func TestInjectBitRateOnTheLengthOnTheWire(t *testing.T) {
	full := sized(t, 1500)
	data := cutCapture(t, cutRecord{full[:64], 1500}, cutRecord{full[:64], 1500}, cutRecord{full[:64], 1500})
	sent, rep, err := injectAt(t, InjectConfig{Input: memInput("snap.pcap", data), Pacing: Pacing{BPS: 1500 * 8}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(sent, want) {
		t.Errorf("got frames sent at %v, want %v (1500 bytes a second)", sent, want)
	}
	if rep.Bytes != 3*1500 {
		t.Errorf("got %d bytes sent, want %d", rep.Bytes, 3*1500)
	}
}

// TestInjectReportTookByHub: a report cut back to the frames a hub took
// counts their bytes exactly, past the window's wrap too; beyond the
// window it counts at most what was sent.
func TestInjectReportTookByHub(t *testing.T) {
	size := func(k int) int { return 14 + k%100 } // frame k's, from 1
	upTo := func(n int) (b int64) {
		for k := 1; k <= n; k++ {
			b += int64(size(k))
		}
		return b
	}
	total := inFlight + 10
	for _, tc := range []struct {
		name   string
		sent   int
		took   int
		frames int
		bytes  int64
	}{
		{"none", 5, 0, 0, 0},
		{"some", 5, 3, 3, upTo(3)},
		{"all", 5, 5, 5, upTo(5)},
		{"more-than-sent", 5, 9, 5, upTo(5)},
		{"past-the-wrap", total, total - 3, total - 3, upTo(total - 3)},
		{"oldest-kept", total, total - inFlight + 1, total - inFlight + 1, upTo(total - inFlight + 1)},
		{"beyond-the-window", total, 3, 3, upTo(total - inFlight + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r InjectReport
			for k := 1; k <= tc.sent; k++ {
				r.sent(size(k))
			}
			r.tookByHub(tc.took)
			if r.Frames != tc.frames || r.Bytes != tc.bytes {
				t.Errorf("got %d frames (%d bytes), want %d (%d)", r.Frames, r.Bytes, tc.frames, tc.bytes)
			}
		})
	}
}

// takingHub is a control target with one port, b, that takes ok frames
// and refuses the rest with refuse's error: as a hub started with a
// smaller --max-frame refuses a frame longer than it, or as hub.Inject
// does once the hub stopped.
type takingHub struct {
	control.Target // the routes the injection does not use
	ok             atomic.Int32
	refuse         func(port string, frame []byte) error
}

func (h *takingHub) Ports(context.Context) ([]hub.PortStatus, error) {
	return []hub.PortStatus{{Name: "b", Attached: true}}, nil
}

func (h *takingHub) State(context.Context) (control.State, error) { return control.State{}, nil }

func (h *takingHub) Inject(_ context.Context, port string, frame []byte) error {
	if h.ok.Add(-1) < 0 {
		return h.refuse(port, frame)
	}
	return nil
}

// TestInjectIntoReportsTheHubsCount: when the hub refuses a frame, the
// report says how many frames the hub took, not how many the client had
// written to the stream by the time the answer came (as fast as possible,
// many more).
func TestInjectIntoReportsTheHubsCount(t *testing.T) {
	const took = 700
	target := &takingHub{refuse: func(port string, frame []byte) error {
		return fmt.Errorf("inject into %q: %d-byte frame: %w", port, len(frame), hub.ErrFrameTooLarge)
	}}
	target.ok.Store(took)
	c := controltest.Client(t, target)

	data := recordedCapture(t, 5000, time.Millisecond)
	var rep *InjectReport
	err := InjectInto(context.Background(), c, "b", InjectConfig{Input: memInput("rec.pcap", data)},
		func(r *InjectReport) { rep = r }, nil)
	if want := `inject into "b": frame 701: `; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(700 frames sent before it)") {
		t.Errorf("got InjectInto error %v, want the hub's refusal of frame 701", err)
	}
	frameLen := len(udpFrame(t, macA, macB, ipA, ipB, 1, 2, 0, "frame"))
	if rep == nil || rep.Frames != took || rep.Bytes != int64(took*frameLen) {
		t.Errorf("got report %v, want %d frames (%d bytes): the hub's count", rep, took, took*frameLen)
	}
}

// TestInjectReportWhenAPassCannotOpen: a pass of --loop that cannot open
// the capture again ends the injection with the report of what was sent
// (its time and drift), not "in 0s".
func TestInjectReportWhenAPassCannotOpen(t *testing.T) {
	data := stampedCapture(t, 0, 1, 2)
	opened := 0
	in := Input{Path: "gone.pcap", Open: func() (io.ReadCloser, error) {
		if opened++; opened > 2 { // checkSelection's read, and the first pass's
			return nil, os.ErrNotExist
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
	_, rep, err := injectAt(t, InjectConfig{Input: in, Pacing: Pacing{Speed: 1}, Loop: 2})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want %v", err, os.ErrNotExist)
	}
	if rep.Frames != 3 || rep.Elapsed != 2*time.Second {
		t.Errorf("got %d frames in %s, want 3 in 2s", rep.Frames, rep.Elapsed)
	}
}
