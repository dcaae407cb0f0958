package replay

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// A policy replayed over captures with no l2hub header (classic pcap, as
// serve --capture run.pcap or QEMU's filter-dump writes it) is a what-if,
// and the replay says why: no verdicts, seed, policy, start or edits are
// recorded, policy time counts from the first frame, and a delayed copy
// may be sent in again as a frame. Without a policy it forwards, and says
// nothing.
func TestJobPolicyOverForeignCaptureIsAWhatIf(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.pcap", string(writePcap(t, hub.DefaultEpoch, []pcapRecord{
		{0, udpFrame(t, macA, macB, ipA, ipB, 1, 2, 1, "one")},
		{time.Millisecond, udpFrame(t, macA, macB, ipA, ipB, 1, 2, 2, "two")},
	})))
	b := writeFile(t, dir, "b.pcap", string(writePcap(t, hub.DefaultEpoch, []pcapRecord{
		{2 * time.Millisecond, udpFrame(t, macB, macA, ipB, ipA, 2, 1, 3, "three")},
	})))
	p := writeFile(t, dir, "p.yaml", "seed: 1\nrules:\n  - {name: lossy, loss: 50%}\n")
	for _, tc := range []struct {
		name   string
		files  []string
		policy string
		input  string // the note's input
		want   []string
	}{
		{"one-pcap", []string{a}, p, a, []string{"it has no l2hub capture header", "policy time counts from the first frame", "again as a frame", ".pcapng"}},
		{"two-pcaps", []string{a, b}, p, "", []string{a + ", " + b + " have no l2hub capture header"}},
		{"no-policy", []string{a, b}, "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ports []string
			for _, f := range tc.files {
				ports = append(ports, strings.TrimSuffix(filepath.Base(f), ".pcap")+"="+f)
			}
			var stderr []string
			res, err := (&Job{Files: tc.files, Ports: ports, Policy: tc.policy, Notes: func(n string) { stderr = append(stderr, n) }}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(res.Notes, func(n Note) bool { return n.Kind == NoteWhatIf && strings.Contains(n.Text, "no l2hub capture header") })
			switch {
			case tc.want == nil && i >= 0:
				t.Fatalf("got note %q, want none without a policy", res.Notes[i])
			case tc.want == nil:
				return
			case i < 0:
				t.Fatalf("got notes %q, want a what-if on the captures without a header", res.Notes)
			}
			n := res.Notes[i]
			if n.Input != tc.input || !slices.Contains(stderr, n.Text) {
				t.Errorf("got note %+v (stderr %q), want it on input %q and on stderr", n, stderr, tc.input)
			}
			for _, w := range tc.want {
				if !strings.Contains(n.Text, w) {
					t.Errorf("got note %q, want it to say %q", n.Text, w)
				}
			}
		})
	}
}
