package replay

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/control/controltest"
	"l2hub/hub"
)

// droppingHub is a control target with one port, b, whose drop counters
// rise by forwarded (per reason) as the injection starts, as frames the
// hub forwards there meanwhile are dropped, and which drops the injected
// frames for the reasons in own, one each, in order.
type droppingHub struct {
	control.Target // the routes the injection does not use
	mu             sync.Mutex
	forwarded      map[string]uint64
	own            []hub.DropReason
	drops          map[string]uint64
	// leaves: the VM is gone once the injection went on; returns: another
	// VM (or the same, rebooted) is attached in its place by then.
	leaves, returns, injected bool
}

// attachedAt is when the port's first VM attached, by the hub's clock.
var attachedAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (h *droppingHub) Ports(context.Context) ([]hub.PortStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.drops == nil {
		h.drops = map[string]uint64{}
	}
	st := hub.PortStatus{Name: "b", Attached: true, Peer: "unix:/run/vm-b.sock", Since: attachedAt}
	switch {
	case h.injected && h.leaves:
		st = hub.PortStatus{Name: "b"}
	case h.injected && h.returns:
		st.Since = attachedAt.Add(90 * time.Second)
	}
	st.Stats.Drops = map[string]uint64{}
	for r, n := range h.drops {
		st.Stats.Drops[r] = n
	}
	return []hub.PortStatus{st}, nil
}

func (h *droppingHub) State(context.Context) (control.State, error) { return control.State{}, nil }

func (h *droppingHub) Inject(context.Context, string, []byte) error { return nil }

func (h *droppingHub) WaitRoom(context.Context, string) error { return nil }

func (h *droppingHub) InjectFrame(context.Context, string, []byte) (hub.DropReason, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for r, n := range h.forwarded { // once, while the injection goes on
		h.drops[r] += n
	}
	h.forwarded = nil
	h.injected = true
	if len(h.own) == 0 {
		return hub.DropNone, nil
	}
	r := h.own[0]
	h.own = h.own[1:]
	h.drops[r.String()]++
	return r, nil
}

// TestInjectIntoCountsItsOwnDrops: the injection's drops are the hub's
// count of the injected frames the port dropped, not the rise of the
// port's counters, which frames forwarded to it meanwhile share. Injected
// frames that found no VM fail it; so do port-down drops beyond those when
// the VM went away while the injection went on, even if it came back by
// the end (some may be injected frames it had queued); when it went away
// only after the hub took the last injected frame, the hub cannot tell
// whether those were among the drops, and a warning says so.
func TestInjectIntoCountsItsOwnDrops(t *testing.T) {
	const none, leaves, returns = 0, 1, 2
	for _, tc := range []struct {
		name      string
		forwarded map[string]uint64
		own       []hub.DropReason
		vm        int // none, leaves or returns
		dropped   map[string]int
		warn      string // "" for none
		wantErr   string
	}{
		{"forwarded-policy", map[string]uint64{"policy": 19}, nil, none, nil,
			"port b's drop counters rose by 19 more than the injection's own drops (frames forwarded to it meanwhile): policy=19", ""},
		{"forwarded-port-down", map[string]uint64{"port-down": 3}, nil, none, nil,
			"port b's drop counters rose by 3 more than the injection's own drops (frames forwarded to it meanwhile): port-down=3", ""},
		{"own-policy", nil, []hub.DropReason{hub.DropPolicy, hub.DropPolicy}, none, map[string]int{"policy": 2}, "", ""},
		{"own-port-down", map[string]uint64{"policy": 1}, []hub.DropReason{hub.DropDown}, none, map[string]int{"port-down": 1},
			"port b's drop counters rose by 1 more than the injection's own drops (frames forwarded to it meanwhile): policy=1", "1 of the frames sent found no VM"},
		{"own-port-down-vm-left", map[string]uint64{"port-down": 2}, []hub.DropReason{hub.DropDown}, leaves, map[string]int{"port-down": 1},
			"", "1 of the frames sent found no VM on the port (port-down), and the port dropped 2 more frames"},
		// Frames the hub took and queued, then threw away as the VM left:
		// port-down on the port, in none of the hub's answer. A VM back by
		// the end left while the injection went on (or an injected frame
		// would have found none).
		{"queued-then-vm-left-and-came-back", map[string]uint64{"port-down": 3, "policy": 1}, nil, returns, nil,
			"port b's drop counters rose by 1 more than the injection's own drops (frames forwarded to it meanwhile): policy=1",
			"its VM went away and came back (peer unix:/run/vm-b.sock since 2025-01-02T03:05:35Z): the port dropped 3 frames as it had no VM (port-down)"},
		// A VM gone by the end may have read every injected frame first.
		{"vm-left-after-the-injection", map[string]uint64{"port-down": 2}, nil, leaves, nil,
			"port b's VM went away after the hub took the injected frames: the port dropped 2 frames as it had no VM (port-down); the hub cannot tell whether injected frames the VM had not read yet are among them", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controltest.Client(t, &droppingHub{forwarded: tc.forwarded, own: tc.own, leaves: tc.vm == leaves, returns: tc.vm == returns})

			var rep *InjectReport
			var warned []string
			err := InjectInto(context.Background(), c, "b",
				InjectConfig{Input: memInput("rec.pcap", recordedCapture(t, 4, time.Millisecond))},
				func(r *InjectReport) { rep = r }, func(w string) { warned = append(warned, w) })
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got InjectInto error %v, want %q", err, tc.wantErr)
			}
			if rep == nil || len(rep.Dropped) != len(tc.dropped) {
				t.Fatalf("got report %+v, want dropped %v", rep, tc.dropped)
			}
			for r, n := range tc.dropped {
				if rep.Dropped[r] != n {
					t.Errorf("got dropped %v, want %v", rep.Dropped, tc.dropped)
				}
			}
			if got := strings.Join(warned, "\n"); got != tc.warn {
				t.Errorf("got warnings %q, want %q", got, tc.warn)
			}
		})
	}
}

// TestInjectIntoJudgesTheCaptureFirst: a capture with nothing to send is
// said to be so before the hub is asked anything (here there is none to
// ask), and one with frames is read once for that, once to send them.
func TestInjectIntoJudgesTheCaptureFirst(t *testing.T) {
	empty := new(ngBlocks).section().iface("")
	err := InjectInto(context.Background(), control.NewClient(filepath.Join(t.TempDir(), "none.sock"), ""), "b",
		InjectConfig{Input: memInput("empty.pcapng", empty.b)}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "empty.pcapng holds no frames") {
		t.Errorf("got InjectInto error %v, want one saying the capture holds no frames", err)
	}

	c := controltest.Client(t, &droppingHub{})
	in, opens := memInput("rec.pcap", recordedCapture(t, 4, time.Millisecond)), 0
	open := in.Open
	in.Open = func() (io.ReadCloser, error) { opens++; return open() }
	if err := InjectInto(context.Background(), c, "b", InjectConfig{Input: in}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if opens != 2 {
		t.Errorf("got the capture opened %d times, want 2: once to judge it, once to send it", opens)
	}
}
