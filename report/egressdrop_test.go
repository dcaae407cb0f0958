package report

import (
	"fmt"
	"slices"
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
	var recs []rec
	for i, r := range reasons {
		sent := uint64(1e9 + i*1e8)
		recs = append(recs, rec{0, sent, true, udpFrame("a", "b", 5000, uint32(i), 20), ""},
			rec{1, sent + 2e7, false, udpFrame("a", "b", 5000, uint32(i), 20), r})
	}
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
