package main

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"

	"l2hub/control/controltest"
	"l2hub/hub"
	"l2hub/replay"
)

// flowHub is a control.Target and control.InjectFlow with one attached
// port, b, that drops injected frames from the fourth on for reason, and
// after the seventh as port-down too when vmLeaves (its VM went away).
type flowHub struct {
	injectRoutes
	reason   hub.DropReason
	vmLeaves bool

	mu       sync.Mutex
	injected int
	drops    map[string]uint64
}

func (h *flowHub) Ports(context.Context) ([]hub.PortStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	drops := make(map[string]uint64)
	for r, n := range h.drops {
		drops[r] = n
	}
	return []hub.PortStatus{{Name: "b", Attached: true, Stats: hub.StatsSnapshot{Drops: drops}}}, nil
}
func (h *flowHub) WaitRoom(context.Context, string) error { return nil }
func (h *flowHub) InjectFrame(context.Context, string, []byte) (hub.DropReason, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.injected++
	r := hub.DropNone
	switch {
	case h.vmLeaves && h.injected > 7:
		r = hub.DropDown
	case h.injected > 3:
		r = h.reason
	}
	if r != hub.DropNone {
		if h.drops == nil {
			h.drops = make(map[string]uint64)
		}
		h.drops[r.String()]++
	}
	return r, nil
}
func (h *flowHub) Inject(ctx context.Context, port string, frame []byte) error {
	_, err := h.InjectFrame(ctx, port, frame)
	return err
}

// TestInjectFlowDropsFailUnlessFlood: injected frames the port dropped for
// flow control make l2hub inject fail, at the recorded timing or a fixed
// rate, naming the drops; flooding (--flood, --speed 0) asks for as fast as
// possible, and there they are a warning. Frames dropped for another reason
// (the policy: its link down) are reported and do not fail it; frames that
// found no VM fail it, flood or not.
func TestInjectFlowDropsFailUnlessFlood(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reason   hub.DropReason
		vmLeaves bool
		args     []string
		warning  string // on stderr
		err      string // "" for success
	}{
		{"stalled-recorded-timing", hub.DropStalled, false, nil, "", "7 of the 10 frames sent were dropped for flow control (stalled=7: its VM read nothing"},
		{"queue-full-pps", hub.DropQueueFull, false, []string{"--pps", "10k"}, "", "(queue-full=7: the port tail-drops"},
		{"queue-full-flood", hub.DropQueueFull, false, []string{"--flood"}, "for flow control (queue-full=7: ", ""},
		{"stalled-speed-0", hub.DropStalled, false, []string{"--speed", "0"}, "for flow control (stalled=7: ", ""},
		{"policy", hub.DropPolicy, false, nil, "the port dropped 7 of the frames sent rather than queue them for its VM: policy=7", ""},
		{"vm-went-away-flood", hub.DropStalled, true, []string{"--flood"}, "port-down=3 stalled=4", "3 of the frames sent found no VM on the port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctl := controltest.ServeTarget(t, &flowHub{reason: tc.reason, vmLeaves: tc.vmLeaves})
			args := append([]string{"inject", writeInjectCapture(t, dir, 10), "--into", "b", "--control", ctl}, tc.args...)
			stdout, stderr, err := runCmd(t, args...)
			if !strings.Contains(stdout, "sent 10 frames") {
				t.Errorf("got stdout %q, want 10 frames sent", stdout)
			}
			if tc.warning != "" && !strings.Contains(stderr, tc.warning) {
				t.Errorf("got stderr %q, want a warning with %q", stderr, tc.warning)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("got error %v, want %q", err, tc.err)
			}
		})
	}
}

// TestInjectLossyFloodJSONCountsTheDrops: a lossy flood, which only warns
// of its drops, still counts them in its --json report, and warns of them
// once, in the hub's words.
func TestInjectLossyFloodJSONCountsTheDrops(t *testing.T) {
	dir := t.TempDir()
	ctl := controltest.ServeTarget(t, &flowHub{reason: hub.DropQueueFull})
	stdout, stderr, err := runCmd(t, "inject", writeInjectCapture(t, dir, 10), "--into", "b", "--control", ctl, "--flood", "--json")
	if err != nil {
		t.Fatalf("inject --flood --json: %v\n%s", err, stderr)
	}
	var rep replay.InjectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("inject --json: %v\n%s", err, stdout)
	}
	if want := map[string]int{"queue-full": 7}; rep.Frames != 10 || !maps.Equal(rep.Dropped, want) {
		t.Errorf("got %d frames sent, dropped %v; want 10, %v", rep.Frames, rep.Dropped, want)
	}
	if n := strings.Count(stderr, "queue-full"); n != 1 || !strings.Contains(stderr, "for flow control (queue-full=7: ") {
		t.Errorf("got stderr %q, want one warning of the 7 frames dropped as queue-full, in the hub's words", stderr)
	}
}
