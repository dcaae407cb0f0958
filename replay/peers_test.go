package replay

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// recordPeers records a live run in which port b's VM attaches at 20ms
// and goes away at 40ms, while a broadcasts at 10, 30 and 50ms; recorded
// says whether the capture's header says it notes its peer changes.
func recordPeers(t *testing.T, recorded bool) []byte {
	t.Helper()
	buf := new(bytes.Buffer)
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Extra: map[string]string{"mode": "hub"}}
	if recorded {
		meta.Extra["peers"] = PeersRecorded
	}
	cfg := memCapture(buf, meta)
	cfg.Overflow = capture.OverflowBlock
	sink, err := capture.Open(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	c := sim.Core()
	a, _ := c.Lookup("a")
	b, _ := c.Lookup("b")
	bq := c.Egress(b)
	set := func(out hub.EgressQueue) {
		if err := c.SetEgress(b, out); err != nil {
			t.Fatal(err)
		}
	}
	set(nil)
	c.NotePeer(a, 0, "chan a", true, "")
	mac := hubtest.MAC("02:00:00:00:00:0a")
	sim.SendAt(10*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "before b"))
	sim.AdvanceTo(20 * time.Millisecond)
	set(bq)
	c.NotePeer(b, sim.Now(), "chan b", true, "")
	sim.SendAt(30*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "to b"))
	sim.AdvanceTo(40 * time.Millisecond)
	set(nil)
	c.NotePeer(b, sim.Now(), "chan b", false, "read: EOF")
	sim.SendAt(50*time.Millisecond, "a", hubtest.Frame(hubtest.Broadcast, mac, "after b"))
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReplayFollowsTheRecordedPeers: a capture that records when each
// VM attached and went away replays with each port down while it had no
// VM, so the replay drops (port-down) what the live hub dropped, and its
// capture says so on the same records as the live one; a capture that
// does not record them replays every port as attached throughout.
func TestReplayFollowsTheRecordedPeers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		recorded      bool
		sent, dropped uint64
	}{
		{"recorded", true, 1, 2},
		{"not recorded", false, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := recordPeers(t, tc.recorded)
			r, err := Open(Config{Inputs: []Input{memInput("peers.pcapng", live)}})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := r.Run(context.Background(), RunConfig{Mode: hub.ModeHub, Capture: memCapture(&out, capture.Meta{Version: "test", Start: hub.DefaultEpoch})})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Ports {
				if p.Name == "b" && (p.Stats.TxFrames != tc.sent || p.Stats.Drops["port-down"] != tc.dropped) {
					t.Errorf("port b: sent %d, drops %v; want %d sent and %d port-down", p.Stats.TxFrames, p.Stats.Drops, tc.sent, tc.dropped)
				}
			}
			if want := map[bool]int{true: 3, false: 0}[tc.recorded]; res.PeerChanges != want || len(res.PeerErrors) > 0 {
				t.Errorf("made %d peer changes (errors %q), want %d", res.PeerChanges, res.PeerErrors, want)
			}
			if !tc.recorded {
				return
			}
			describe := func(data []byte) []string {
				rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for p, err := range rd.All() {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, describePacket(p))
				}
				return got
			}
			want, got := describe(live), describe(out.Bytes())
			if !slices.Equal(got, want) {
				t.Errorf("the replay's capture differs from the live one:\n got %q\nwant %q", got, want)
			}
			if !strings.Contains(strings.Join(want, "\n"), "port b detached (read: EOF)") {
				t.Errorf("the live capture does not note b's detach: %q", want)
			}
		})
	}
}
