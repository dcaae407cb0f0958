package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"l2hub/control"
	"l2hub/hub"
)

// TestVXLANLearningOnControlAPI: a running hub's VXLAN port shows its own
// learning table (the VM's MAC, which it sent a frame from, and the far
// VTEP's, learned from its frame; the bound; evictions; moves) as the
// control API's port status (ctl ports --json), as ctl ports prints it,
// and on /metrics, which lints clean. A tcp port has none.
func TestVXLANLearningOnControlAPI(t *testing.T) {
	h := runVXLANHub(t)
	ctx := context.Background()
	h.exchange(t)

	var ov, a control.PortStatus
	ports, err := h.ctl.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		switch p.Name {
		case "ov":
			ov = p
		case "a":
			a = p
		}
	}
	want := hub.LearningStatus{Entries: 2, Size: hub.DefaultMaxMACs}
	if ov.Learning == nil || *ov.Learning != want {
		t.Fatalf("got ov's learning table %+v, want %+v", ov.Learning, want)
	}
	if a.Learning != nil {
		t.Errorf("got tcp port a's learning table %+v, want none", a.Learning)
	}
	b, err := json.Marshal(ov)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"learning":{"entries":2,"size":4096,"evicted":0,"moves":0}`)) {
		t.Errorf("ctl ports --json prints ov as %s, want its learning table under \"learning\"", b)
	}

	text := portsText(t, ov)
	if want := regexp.MustCompile(`(?m)^ov .*\n  learned 2 of 4096 MACs  evicted 0  moved 0\n  remote 127\.0\.0\.2 `); !want.MatchString(text) {
		t.Errorf("ctl ports printed\n%s\nwant the learning table under ov, before its remotes, matching %s", text, want)
	}

	fams := h.metrics(t)
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"l2hub_vxlan_learned_macs", 2},
		{"l2hub_vxlan_learned_macs_limit", 4096},
		{"l2hub_vxlan_learning_evictions_total", 0},
		{"l2hub_vxlan_mac_moves_total", 0},
	} {
		if got, ok := sample(fams, tc.name, "port", "ov"); !ok || got != tc.want {
			t.Errorf("%s{port=ov} = %v (found %v), want %v", tc.name, got, ok, tc.want)
		}
		if _, ok := sample(fams, tc.name, "port", "a"); ok {
			t.Errorf("tcp port a has a %s series", tc.name)
		}
	}
}
