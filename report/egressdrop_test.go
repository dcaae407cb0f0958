package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestEgressDropsGroupByReason: copies dropped at egress for different
// reasons (a partition and a link set down during a delay, a full queue, a
// stalled peer) are not one arrow under the first one's reason (the audit:
// "UDP 5000 ×4 ... partition (a|b)"); each keeps its rule and action,
// alike ones still share an arrow, and the partition's and the link's
// drops are bands from when the copies were dropped.
func TestEgressDropsGroupByReason(t *testing.T) {
	reasons := []string{
		"dropped: rule lag: delay (20ms); rule cut: partition (a|b)",
		"dropped: queue-full (b: 256 frames)",
		"dropped: rule lag: delay (20ms); down (port b)",
		"dropped: stalled",
		"dropped: stalled",
		"dropped: stalled",
		"dropped: stalled",
	}
	recs := droppedCopies(reasons)
	m := build(t, Options{Capture: writeTemp(t, "egress-drops.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))})
	everyRecordDrawn(t, m)
	var got []string
	for _, f := range m.Frames {
		if len(f.Drops) != 1 {
			t.Fatalf("frame #%d: got drops %+v, want its copy's", f.Number, f.Drops)
		}
		got = append(got, fmt.Sprintf("%s/%s", f.Drops[0].Rule, f.Drops[0].Action))
	}
	want := []string{"cut/partition", "/queue-full", "/down", "/stalled", "/stalled", "/stalled", "/stalled"}
	if !slices.Equal(got, want) {
		t.Errorf("got drops' rule/action %q, want %q", got, want)
	}
	var groups []string
	for _, g := range m.Groups {
		groups = append(groups, fmt.Sprintf("%q x%d #%d..#%d drop %q", g.Label, len(g.Frames), g.First, g.Last, g.Drop))
	}
	if wantGroups := []string{`"UDP 5000" x4 #7..#13 drop "stalled"`}; !slices.Equal(groups, wantGroups) {
		t.Errorf("got groups %q, want only the stalled copies' %q", groups, wantGroups)
	}
	var bands []string
	for _, b := range m.Bands {
		bands = append(bands, fmt.Sprintf("%s %s %q %s #%d", b.Kind, b.Name, b.Spec, fmtDur(b.Start), b.First))
	}
	if wantBands := []string{`partition cut "a|b" 0.020s #2`, `down  "port b" 0.220s #6`}; !slices.Equal(bands, wantBands) {
		t.Errorf("got bands %q, want the partition's and the link's, from their copies' drops", bands)
	}
}

// TestEgressDropsOfTheHub: the hub's own egress drops group by their whole
// reason, not under the first one's: a port with no peer (port-down) and a
// frame too large for it (oversize), which hub.IsDropAction does not list,
// and two queues' sizes; and a copy held by a delay before it was dropped,
// or cut by a partition during its wait, is drawn alone as a delayed
// delivery is, so that no group shows one member's delay draw as if all
// had it (the review: "port-down" x4 covering the oversize drops, "delay
// (... draw=+23.266147ms); queue-full" covering a drop never delayed).
func TestEgressDropsOfTheHub(t *testing.T) {
	var reasons []string
	for _, r := range []string{
		"dropped: port-down (no VM attached to the port)",
		"dropped: oversize (larger than the port's peer takes (a VXLAN port: its MTU less 50 bytes))",
		"dropped: queue-full (b: 256 frames)",
		"dropped: queue-full (b: 512 frames)",
	} {
		reasons = append(reasons, r, r, r)
	}
	reasons = append(reasons,
		"dropped: rule lag: delay (30ms±25ms uniform draw=+23.266147ms); queue-full (b: 256 frames)",
		"dropped: rule lag: delay (30ms±25ms uniform draw=-11.5ms); queue-full (b: 256 frames)",
		"dropped: rule lag: delay (30ms±25ms uniform draw=+2ms); queue-full (b: 256 frames)",
		"dropped: rule lag: delay (20ms); port-down (no VM attached to the port)",
		"dropped: rule lag: delay (20ms); port-down (no VM attached to the port)",
		"dropped: rule lag: delay (20ms); port-down (no VM attached to the port)",
	)
	recs := droppedCopies(reasons)
	// Then a partition's drops at ingress, and the copies it cut during
	// their delay: those are alone.
	for i := range 5 {
		sent := 4e9 + uint64(i)*1e8
		f := udpFrame("a", "b", 5000, uint32(100+i), 20)
		if i < 3 {
			recs = append(recs, rec{0, sent, true, f, "dropped: a->b: rule cut: partition (a|b)"})
		} else {
			recs = append(recs, rec{0, sent, true, f, ""}, rec{1, sent + 2e7, false, f, "dropped: rule lag: delay (20ms); rule cut: partition (a|b)"})
		}
	}
	m := build(t, Options{Capture: writeTemp(t, "egress-drops.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs))})
	everyRecordDrawn(t, m)
	var groups []string
	for _, g := range m.Groups {
		groups = append(groups, fmt.Sprintf("x%d %s", len(g.Frames), g.Drop))
	}
	want := []string{
		"x3 port-down (no VM attached to the port)",
		"x3 oversize (larger than the port's peer takes (a VXLAN port: its MTU less 50 bytes))",
		"x3 queue-full (b: 256 frames)",
		"x3 queue-full (b: 512 frames)",
		"x3 rule cut: partition",
	}
	if !slices.Equal(groups, want) {
		t.Errorf("got groups\n%q\nwant\n%q", groups, want)
	}
	var actions []string
	for _, f := range m.Frames[:4*3+1] {
		actions = append(actions, f.Drops[0].Action)
	}
	if want := "port-down port-down port-down oversize oversize oversize queue-full queue-full queue-full queue-full queue-full queue-full queue-full"; strings.Join(actions, " ") != want {
		t.Errorf("got drops' actions %q, want %q", actions, want)
	}
}

// TestDropNote: the note that says why an egress record was dropped is the
// last drop action, the hub's own port-down and oversize among them, whatever
// note follows it; else the last that is no mark on a copy.
func TestDropNote(t *testing.T) {
	for _, tc := range []struct{ comment, want string }{
		{"dropped: rule lag: delay (20ms); port-down (no VM attached to the port)", "port-down"},
		{"dropped: rule lag: delay (20ms); rule cut: partition (a|b)", "partition"},
		{"dropped: rule cut: partition (a|b); port-down (no VM attached to the port)", "port-down"},
		{"dropped: rule cut: partition (a|b); oversize (larger than the port's peer takes)", "oversize"},
		{"dropped: port-down (no VM attached to the port); rule tag: note (a newer hub's)", "port-down"},
		{"dropped: oversize (larger than the port's peer takes); rule tag: note (a newer hub's)", "oversize"},
		{"dropped: rule tag: note (a newer hub's); rule rot: corrupt (p=1)", "note"},
	} {
		_, notes, _ := parseComment(tc.comment)
		got := ""
		if i := dropNote(notes); i >= 0 {
			got = notes[i].Action
		}
		if got != tc.want {
			t.Errorf("got dropNote(%q) = %q, want %q", tc.comment, got, tc.want)
		}
	}
}

// droppedCopies is, for each reason, a frame a sends to b (one every
// 100 ms from 1 s) and its copy to b dropped for that reason 20 ms later.
func droppedCopies(reasons []string) []rec {
	var recs []rec
	for i, r := range reasons {
		sent := 1e9 + uint64(i)*1e8
		recs = append(recs, rec{0, sent, true, udpFrame("a", "b", 5000, uint32(i), 20), ""},
			rec{1, sent + 2e7, false, udpFrame("a", "b", 5000, uint32(i), 20), r})
	}
	return recs
}
