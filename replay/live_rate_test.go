package replay

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/control/controltest"
	"l2hub/hub"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"500", 500, true}, {"1.5k", 1500, true}, {"10M", 1e7, true}, {"1G", 1e9, true},
		{"0", 0, false}, {"-5", 0, false}, {"fast", 0, false}, {"", 0, false}, {"1e13", 0, false},
	} {
		got, err := ParseRate(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestParsePacing: one of --speed, --flood, --pps and --bps at most, each
// giving its pacing; a bad rate names its flag.
func TestParsePacing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		given       []string
		speed       float64
		flood       bool
		pps, bps    string
		want        Pacing
		wantErrText string
	}{
		{"default", nil, 1, false, "", "", Pacing{Speed: 1}, ""},
		{"speed", []string{"speed"}, 2, false, "", "", Pacing{Speed: 2}, ""},
		{"flood", []string{"flood"}, 1, true, "", "", Pacing{}, ""},
		{"pps", []string{"pps"}, 1, false, "10k", "", Pacing{PPS: 1e4}, ""},
		{"bps", []string{"bps"}, 1, false, "", "64k", Pacing{BPS: 64e3}, ""},
		{"speed-and-pps", []string{"speed", "pps"}, 2, false, "10", "", Pacing{}, "give one of"},
		{"pps-and-bps", []string{"pps", "bps"}, 1, false, "10", "10", Pacing{}, "give one of"},
		{"bad-pps", []string{"pps"}, 1, false, "fast", "", Pacing{}, "--pps: "},
		{"bad-bps", []string{"bps"}, 1, false, "", "-1", Pacing{}, "--bps: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			given := func(name string) bool { return slices.Contains(tc.given, name) }
			got, err := ParsePacing(given, tc.speed, tc.flood, tc.pps, tc.bps)
			switch {
			case tc.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErrText) {
					t.Errorf("got %v, %v; want an error containing %q", got, err, tc.wantErrText)
				}
			case err != nil || got != tc.want:
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestInjectIntoStoppedHubSaysItOnce: when the hub stops during an
// injection, the error names the port and the frame once, as the hub's
// answer says them: InjectInto does not name the port again.
func TestInjectIntoStoppedHubSaysItOnce(t *testing.T) {
	target := &takingHub{refuse: func(string, []byte) error { return hub.ErrStopped }} // the hub stopped after 3 frames
	target.ok.Store(3)
	c := controltest.Client(t, target)

	cfg := InjectConfig{Input: memInput("rec.pcap", recordedCapture(t, 10, time.Millisecond))}
	err := InjectInto(context.Background(), c, "b", cfg, nil, nil)
	if want := `inject into "b": frame 4: hub stopped (3 frames sent before it)`; err == nil || err.Error() != want {
		t.Errorf("got InjectInto error %v, want %q", err, want)
	}
	if !errors.Is(err, hub.ErrStopped) {
		t.Errorf("%v does not match hub.ErrStopped", err)
	}
}
