package capture

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
)

// TestHeadersSayWhichPortsHaveAVM: a capture that records its peers says
// in each file's header which ports have a VM when the file starts, as
// the peer changes before it left them; one that does not, says nothing.
func TestHeadersSayWhichPortsHaveAVM(t *testing.T) {
	for _, recorded := range []bool{true, false} {
		fs := newMemFS()
		cfg := memConfig(fs)
		cfg.Path = filepath.Join(t.TempDir(), "run.pcapng")
		cfg.RotatePackets = 1
		cfg.Meta = testMeta
		if recorded {
			cfg.Meta.Extra = map[string]string{PeersKey: PeersRecorded}
		}
		s := mustOpen(t, cfg)
		run(s, []step{addPort(0, "a", ""), addPort(1, "b", "")})
		s.PeerChanged(hub.PeerEvent{Port: 0, PortName: "a", Attached: true})
		s.PeerChanged(hub.PeerEvent{Port: 1, PortName: "b", Attached: true})
		run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false),
			event(time.Millisecond, 1, "b", hub.Ingress, frame(60, 2, 1, 2), false)})
		s.PeerChanged(hub.PeerEvent{At: time.Second, Port: 0, PortName: "a", Attached: false})
		run(s, []step{event(time.Second, 1, "b", hub.Ingress, frame(60, 2, 1, 2), false)})
		mustClose(t, s)

		var got [][]string
		var ats []time.Duration
		for _, path := range s.Files() {
			_, r := readAll(t, fs.file(t, path))
			fm, err := ParseMeta(r.Section().Comment)
			if err != nil {
				t.Fatal(err)
			}
			names, at, ok, err := fm.PeersAttached()
			if err != nil || ok != recorded {
				t.Fatalf("%s: PeersAttached() = %v, %v, %v, %v; want said: %v", path, names, at, ok, err, recorded)
			}
			got = append(got, names)
			ats = append(ats, at)
		}
		// A file opens for the frame that does not fit the one before: at
		// open, nobody; for b's frame, after the attaches; after a left.
		want := [][]string{{}, {"a", "b"}, {"b"}}
		if !recorded {
			want = [][]string{nil, nil, nil}
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("recorded %v: the files' headers say %q, want %q", recorded, got, want)
		}
		if wantAt := []time.Duration{0, 0, time.Second}; recorded && !slices.Equal(ats, wantAt) {
			t.Errorf("the files' headers say their states are as of %v, want %v (the latest change each reflects)", ats, wantAt)
		}
	}
	for _, v := range []string{`["a",`, `["a"] []`, `{"at":-1,"ports":[]}`, `{"at":1,"ports":[],"x":1}`, `{"at":1,"ports":[]} {}`,
		`{"at":99999999999999999999,"ports":[]}`, `{"at":3155760000000000001,"ports":[]}`} {
		bad := Meta{Extra: map[string]string{PeersKey: PeersRecorded, PeersAttachedKey: v}}
		if _, _, _, err := bad.PeersAttached(); err == nil {
			t.Errorf("peers-attached %s: no error", v)
		}
	}
	list := Meta{Extra: map[string]string{PeersKey: PeersRecorded, PeersAttachedKey: `["a","b"]`}} // an early form
	if ports, at, ok, err := list.PeersAttached(); !ok || err != nil || !slices.Equal(ports, []string{"a", "b"}) || at != 0 {
		t.Errorf("a list: %v, %v, %v, %v; want a and b as of 0", ports, at, ok, err)
	}
	early := Meta{Extra: map[string]string{PeersKey: PeersRecorded}}
	if ports, at, ok, err := early.PeersAttached(); !ok || err != nil || len(ports) != 0 || at != 0 {
		t.Errorf("a header without the key: %v, %v, %v, %v; want no port as of 0", ports, at, ok, err)
	}
}
