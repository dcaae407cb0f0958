package replay

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/control"
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

// stoppingHub is a control target with one port, b, whose hub stops after
// taking ok frames, refusing the rest as hub.Inject does once stopped.
type stoppingHub struct {
	control.Target // the routes the injection does not use
	ok             atomic.Int32
}

func (h *stoppingHub) Ports(context.Context) ([]hub.PortStatus, error) {
	return []hub.PortStatus{{Name: "b", Attached: true}}, nil
}

func (h *stoppingHub) State(context.Context) (control.State, error) { return control.State{}, nil }

func (h *stoppingHub) Inject(context.Context, string, []byte) error {
	if h.ok.Add(-1) < 0 {
		return hub.ErrStopped
	}
	return nil
}

// TestInjectIntoStoppedHubSaysItOnce: when the hub stops during an
// injection, the error names the port and the frame once, as the hub's
// answer says them: InjectInto does not name the port again.
func TestInjectIntoStoppedHubSaysItOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := control.Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	target := &stoppingHub{}
	target.ok.Store(3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&control.Server{Target: target}).Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	cfg := InjectConfig{Input: memInput("rec.pcap", recordedCapture(t, 10, time.Millisecond))}
	err = InjectInto(context.Background(), control.NewClient(path, ""), "b", cfg, nil, nil)
	if want := `inject into "b": frame 4: hub stopped (3 frames sent before it)`; err == nil || err.Error() != want {
		t.Errorf("got InjectInto error %v, want %q", err, want)
	}
	if !errors.Is(err, hub.ErrStopped) {
		t.Errorf("%v does not match hub.ErrStopped", err)
	}
}
