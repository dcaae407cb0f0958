package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/filter"
)

// keptText is every distinct text a model keeps from the capture's
// comments: what Limits.MaxText bounds.
func keptText(m *Model) map[string]bool {
	seen := map[string]bool{}
	for _, f := range m.Frames {
		seen[f.Comment] = true
		for _, d := range f.Deliveries {
			seen[d.Comment] = true
		}
		for _, d := range f.Drops {
			seen[d.Reason], seen[d.Rule] = true, true
		}
	}
	delete(seen, "")
	return seen
}

func hasWarning(m *Model, sub string) bool {
	return slices.ContainsFunc(m.Warnings, func(w string) bool { return strings.Contains(w, sub) })
}

// TestBudgets: what a report keeps in all is bounded (Limits.MaxText,
// MaxArrows, MaxHexTotal) whatever the capture holds, and a warning says
// what was cut.
func TestBudgets(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		// Unique comments of '<', which the page spells in six bytes each,
		// and unique drop reasons.
		var recs []rec
		for i := range 200 {
			f := udpFrame("a", "b", 9, uint32(i), 0)
			recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, fmt.Sprintf("dropped: a->b: rule r%d: drop (%s)", i, strings.Repeat("<", 500))})
		}
		const budget = 40_000
		m := build(t, Options{Capture: writeTemp(t, "text.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), Limits: Limits{MaxText: budget}})
		cost := 0
		for s := range keptText(m) {
			if _, free := actions[s]; !free { // the hub's action words cost nothing
				cost += textCost(s)
			}
		}
		if cost > budget {
			t.Errorf("got %d of text kept, as the page spells it, want at most %d", cost, budget)
		}
		last := m.Frames[len(m.Frames)-1]
		if last.Comment != "" || len(last.Drops) != 1 || last.Drops[0].Reason != "drop" || last.Drops[0].Action != "drop" {
			t.Errorf("got the last frame's comment %q and drops %+v, want no comment and a drop that gives its action", last.Comment, last.Drops)
		}
		if !hasWarning(m, "comments are not shown") {
			t.Errorf("got warnings %q, want one about the text left out", m.Warnings)
		}
	})
	t.Run("arrows", func(t *testing.T) {
		var notes []string
		for _, p := range []string{"b", "c", "d"} {
			notes = append(notes, "a->"+p+": rule r: drop")
		}
		var recs []rec
		for i := range 40 {
			recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, udpFrame("a", "b", 9, uint32(i), 0), "dropped: " + strings.Join(notes, "; ")})
		}
		f := udpFrame("a", "b", 9, 99, 0)
		recs = append(recs, rec{0, 2e9, true, f, ""}, rec{1, 2e9, false, f, ""}) // a delivery: the capture records them
		const budget = 50
		m := build(t, Options{Capture: writeTemp(t, "arrows.pcapng", pcapngFile([]string{"a", "b", "c", "d"}, []string{"", "", "", ""}, recs)), Limits: Limits{MaxArrows: budget}})
		kept, more := 0, 0
		for _, f := range m.Frames {
			kept += len(f.Deliveries) + len(f.Drops)
			more += f.More
		}
		if kept != budget || more != 40*3+1-budget {
			t.Errorf("got %d deliveries and drops kept and %d counted, want %d and %d", kept, more, budget, 40*3+1-budget)
		}
		if !hasWarning(m, fmt.Sprintf("%d deliveries and drops past the first %d (Limits.MaxArrows)", 40*3+1-budget, budget)) {
			t.Errorf("got warnings %q, want one about the arrows left out", m.Warnings)
		}
	})
	t.Run("hex", func(t *testing.T) {
		var recs []rec
		for i := range 100 {
			f := udpFrame("a", "b", 9, uint32(i), 300)
			recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, ""}, rec{1, uint64(1e9 + i*1e6), false, f, ""})
		}
		const budget = 10_000
		m := build(t, Options{Capture: writeTemp(t, "hex.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), Limits: Limits{MaxHexTotal: budget}})
		full, cut := 0, 0
		for _, f := range m.Frames {
			switch len(f.Data) {
			case DefaultHexBytes:
				full++
			case minHex:
				cut++
			default:
				t.Fatalf("got frame %d keeping %d bytes, want %d or %d", f.Number, len(f.Data), DefaultHexBytes, minHex)
			}
			if len(f.Deliveries) != 1 || f.Deliveries[0].Kind&Corrupted != 0 {
				t.Fatalf("got frame %d delivered as %+v, want one faithful copy: a frame's bytes cut short are not a corruption", f.Number, f.Deliveries)
			}
		}
		if full != budget/DefaultHexBytes || cut != 100-full {
			t.Errorf("got %d frames with their %d bytes and %d with %d, want %d and %d", full, DefaultHexBytes, cut, minHex, budget/DefaultHexBytes, 100-budget/DefaultHexBytes)
		}
		if !hasWarning(m, fmt.Sprintf("%d frames keep only their first %d bytes", cut, minHex)) {
			t.Errorf("got warnings %q, want one about the bytes left out", m.Warnings)
		}
	})
}

// shownCost is what the distinct texts of a model's bands and markers
// cost, and how many there are.
func shownCost(m *Model) (cost, n int) {
	seen := map[string]bool{}
	for _, bd := range m.Bands {
		seen[bd.Name], seen[bd.Spec] = true, true
	}
	for _, mk := range m.Markers {
		seen[mk.Text] = true
	}
	delete(seen, "")
	for s := range seen {
		cost += textCost(s)
	}
	return cost, len(seen)
}

// shortCost is the most a text cut to minText costs.
var shortCost = textCost(strings.Repeat("<", minText) + "…")

// TestControlEditsCountAgainstMaxText: changes made through the control
// API (the review's capture: a partition started on every record, each
// named with 60 000 '<'; here 50 000, what one comment option holds) draw bands and markers whose text is cleaned,
// cut and charged to Limits.MaxText as a comment's is: the page keeps at
// most the budget of it, and minText of each text past it, and a warning
// says so. Each partition is still a band of its own.
func TestControlEditsCountAgainstMaxText(t *testing.T) {
	const n, budget = 100, 50_000
	var recs []rec
	for i := range n {
		e := filter.Edit{At: time.Duration(i+1) * time.Millisecond, Op: filter.EditPartitionStart,
			Name: fmt.Sprintf("p%d-%s", i, strings.Repeat("<", 50_000)), Groups: [][]string{{"a"}, {"b"}}}
		recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, udpFrame("a", "b", 9, uint32(i), 0), e.Line()})
	}
	m := build(t, Options{Capture: writeTemp(t, "edits.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)), Limits: Limits{MaxText: budget}})
	if len(m.Bands) != n {
		t.Fatalf("got %d bands, want %d: one per partition", len(m.Bands), n)
	}
	for _, bd := range m.Bands {
		if len(bd.Name) > maxRuleText+len("…") || !slices.Equal(bd.Ports, []int{0, 1}) {
			t.Fatalf("got a band named %d bytes on %v, want at most %d on [0 1]", len(bd.Name), bd.Ports, maxRuleText+len("…"))
		}
	}
	if cost, k := shownCost(m); cost > budget+k*shortCost {
		t.Errorf("got %d of band and marker text, as the page spells it, want at most %d (the budget, and %d texts cut short)", cost, budget+k*shortCost, k)
	}
	if !hasWarning(m, "markers show only the first") || !hasWarning(m, "bands show only the first") {
		t.Errorf("got warnings %q, want one about the bands and markers cut short", m.Warnings)
	}
}

// TestConsoleMarkersCountAgainstMaxText: a console log's lines are
// charged to Limits.MaxText as the capture's text is (the review's 2 000
// lines of 400 '<' made a 5 MB page); past it, a marker keeps minText of
// its text, and a warning says so.
func TestConsoleMarkersCountAgainstMaxText(t *testing.T) {
	const n, budget = 2000, 50_000
	var log strings.Builder
	for i := range n {
		fmt.Fprintf(&log, "%d.%03d %d %s\n", 1+i/1000, i%1000, i, strings.Repeat("<", 380))
	}
	f := udpFrame("a", "b", 9, 1, 0)
	capture := writeTemp(t, "run.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, []rec{{0, 1e9, true, f, ""}, {1, 1e9, false, f, ""}}))
	m := build(t, Options{Capture: capture, Consoles: []Console{{Port: "a", Path: writeTemp(t, "a.log", []byte(log.String()))}}, Limits: Limits{MaxText: budget}})
	if len(m.Markers) != n {
		t.Fatalf("got %d markers, want %d", len(m.Markers), n)
	}
	if cost, k := shownCost(m); cost > budget+k*shortCost {
		t.Errorf("got %d of marker text, as the page spells it, want at most %d (the budget, and %d texts cut short)", cost, budget+k*shortCost, k)
	}
	if !hasWarning(m, "markers show only the first") {
		t.Errorf("got warnings %q, want one about the markers cut short", m.Warnings)
	}
}

// TestCommentsLeaveRoomForMarkers: the capture's comments, read first,
// take at most half of Limits.MaxText, so the console lines read after
// them keep their text.
func TestCommentsLeaveRoomForMarkers(t *testing.T) {
	const budget = 50_000
	var recs []rec
	for i := range 200 {
		f := udpFrame("a", "b", 9, uint32(i), 0)
		recs = append(recs, rec{0, uint64(1e9 + i*1e6), true, f, fmt.Sprintf("%d %s", i, strings.Repeat("<", 500))}, rec{1, uint64(1e9 + i*1e6), false, f, ""})
	}
	line := "GUEST: nexus announce ok, the session is up and the first frames went through"
	log := writeTemp(t, "a.log", []byte("1.500 "+line+"\n"))
	m := build(t, Options{Capture: writeTemp(t, "run.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, recs)),
		Consoles: []Console{{Port: "a", Path: log}}, Limits: Limits{MaxText: budget}})
	if len(m.Markers) != 1 || m.Markers[0].Text != line {
		t.Errorf("got markers %+v, want the console's line whole", m.Markers)
	}
	if !hasWarning(m, "comments are not shown") {
		t.Errorf("got warnings %q, want one about the comments left out", m.Warnings)
	}
	cost, seen := 0, map[string]bool{}
	for _, f := range m.Frames {
		if f.Comment != "" && !seen[f.Comment] {
			seen[f.Comment] = true
			cost += textCost(f.Comment)
		}
	}
	if cost == 0 || cost > budget/2 {
		t.Errorf("got comments costing %d kept, want some, and at most half of MaxText (%d)", cost, budget/2)
	}
}

// TestEgressDropReasonChargedOnce: the reason of a copy dropped on its way
// out, its notes' reasons joined, is charged to Limits.MaxText once: a
// budget that holds the joined reason keeps it whole.
func TestEgressDropReasonChargedOnce(t *testing.T) {
	r1, r2 := "rule r1: delay-full (held 64 frames)", "rule r2: delay-full (held 128 frames)"
	reason := r1 + "; " + r2
	f := udpFrame("a", "b", 9, 1, 0)
	path := writeTemp(t, "egress.pcapng", pcapngFile([]string{"a", "b"}, []string{"", ""}, []rec{
		{0, 1e9, true, f, ""}, {1, 1e9, false, f, "dropped: " + reason},
	}))
	m := build(t, Options{Capture: path, Limits: Limits{MaxText: textCost(reason)}})
	if len(m.Frames) != 1 || len(m.Frames[0].Drops) != 1 || m.Frames[0].Drops[0].Reason != reason {
		t.Errorf("got %s, want the copy's drop with its reason %q", describe(m), reason)
	}
}
