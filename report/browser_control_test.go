package report

import (
	"strings"
	"testing"
	"time"

	"l2hub/filter"
)

// TestBrowserControlBands: partitions and links set through the control
// API, which the capture records, are drawn from the time they were set to
// the time they ended, one that dropped nothing too, and the page says so
// without a script error.
func TestBrowserControlBands(t *testing.T) {
	frame := udpFrame("a", "b", 37020, 1, 0)
	note := func(e filter.Edit) string {
		return "control at " + e.At.String() + ": " + e.String() + "\n" + e.Line()
	}
	cut := filter.Edit{At: 1500 * time.Millisecond, Op: filter.EditPartitionStart, Name: "cut", Groups: [][]string{{"a"}, {"b"}}}
	heal := filter.Edit{At: 2500 * time.Millisecond, Op: filter.EditPartitionHeal, Name: "cut"}
	quiet := filter.Edit{At: 2600 * time.Millisecond, Op: filter.EditPartitionStart, Name: "quiet", Groups: [][]string{{"a"}, {"b"}}}
	quietHeal := filter.Edit{At: 2700 * time.Millisecond, Op: filter.EditPartitionHeal, Name: "quiet"}
	down := filter.Edit{At: 3100 * time.Millisecond, Op: filter.EditLinkDown, Name: "b"}
	capture := writeTemp(t, "control.pcapng", pcapngFile([]string{"a", "b"}, []string{"tcp", "tcp"}, []rec{
		{0, 0, true, frame, ""},
		{1, 0, false, frame, ""},
		{0, 2e9, true, frame, "dropped: a->b: rule cut: partition (a|b)\n" + note(cut)},
		{0, 3e9, true, frame, note(heal) + "\n" + note(quiet) + "\n" + note(quietHeal)},
		{1, 3e9, false, frame, ""},
		{0, 4e9, true, frame, "dropped: a->b: down (port b)\n" + note(down)},
	}))
	m := build(t, Options{Capture: capture})
	var got []string
	for _, b := range m.Bands {
		got = append(got, b.Kind+" "+b.Name+" "+b.Spec)
		if !b.Control {
			t.Errorf("band %+v: not the control API's", b)
		}
	}
	if strings.Join(got, "; ") != "partition cut a|b; down  port b; partition quiet a|b" {
		t.Errorf("got bands %q", got)
	}
	path := writePage(t, Options{Capture: capture})
	b := newBrowser(t, 1200, 800)
	b.open(t, path)
	s := b.shown(t)
	if s.Bands < 3 || !anyContains(s.BandLabels, "partition quiet a|b") || !anyContains(s.BandLabels, "0 drops, healed") ||
		!anyContains(s.BandLabels, "1 drops, not healed") {
		t.Errorf("got %d band rects labelled %q, want cut, quiet and the link down", s.Bands, s.BandLabels)
	}
	text := eval[string](t, b, `document.getElementById('notes').textContent`)
	for _, want := range []string{
		"partition cut a|b set through the control API at 1.500 s, ended at 2.500 s: 1 drop (frames 3–3)",
		"partition quiet a|b set through the control API at 2.600 s, ended at 2.700 s: 0 drops",
		"link down port b set through the control API at 3.100 s, not ended before the capture ends: 1 drop",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the notes lack %q:\n%s", want, text)
		}
	}
	// Each change is a marker on the hub's line; clicking one says where
	// the capture notes it.
	marks := eval[[]string](t, b, `Array.from(document.querySelectorAll('#svg .item')).filter(g => g.querySelector('path.marker.control')).map(g => g.querySelector('title').textContent)`)
	if len(marks) != 5 || !strings.Contains(strings.Join(marks, "\n"), "control: partition cut started: a|b") {
		t.Errorf("got control markers %q, want the 5 changes", marks)
	}
	detail := eval[string](t, b, `(() => { const g = Array.from(document.querySelectorAll('#svg .item')).find(g => g.querySelector('path.marker.control'));
		g.dispatchEvent(new MouseEvent('click', {bubbles: true})); return document.getElementById('detail').textContent; })()`)
	if !strings.Contains(detail, "Control API") || !strings.Contains(detail, "the capture notes it on frame 3") {
		t.Errorf("clicking the first control marker shows %q", detail)
	}
	if s := b.shown(t); s.Markers < 5 {
		t.Errorf("%d markers drawn", s.Markers)
	}
	if p := b.said(); len(p) > 0 {
		t.Errorf("got the page saying %q, want a quiet console", p)
	}
}
