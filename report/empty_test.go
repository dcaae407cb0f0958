package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// emptyL2hubCapture is what l2hub serve with ports a and b writes when it
// is stopped before any frame: a section header and an interface per port.
func emptyL2hubCapture(t *testing.T) string {
	policy := writeTemp(t, "none.yaml", []byte("seed: 1\n"))
	return simCapture(t, policy, []string{"a", "b"}, func(*hubtest.Sim) {})
}

// emptyPcap is an empty classic pcap, as tcpdump leaves one: a file header
// and no record.
func emptyPcap(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "empty.pcap")
	sink, err := capture.Open(capture.Config{Path: path, Format: capture.FormatPcap, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func portNames(m *Model) []string {
	var names []string
	for _, p := range m.Ports {
		names = append(names, p.Name)
	}
	return names
}

// TestEmptyCapture: a capture of no frame still has the ports its
// interfaces describe, a console attaches to one of them, and no delivery
// is said to be inferred.
func TestEmptyCapture(t *testing.T) {
	path := emptyL2hubCapture(t)
	log := writeTemp(t, "a.log", []byte("  0.5 GUEST: booted\n"))
	m := build(t, Options{Capture: path, Consoles: []Console{{Port: "a", Path: log}}})
	if got := portNames(m); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got ports %q, want a and b from the capture's interfaces", got)
	}
	if len(m.Frames) != 0 || m.Records != 0 || m.Inferred || len(m.Warnings) != 0 {
		t.Errorf("got %d frames, %d records, inferred %v, warnings %q, want an empty run and nothing to say", len(m.Frames), m.Records, m.Inferred, m.Warnings)
	}
	if !m.Start.Equal(hub.DefaultEpoch) {
		t.Errorf("got start %v, want the hub's start %v from the capture header", m.Start, hub.DefaultEpoch)
	}
	if len(m.Markers) != 1 || m.Ports[m.Markers[0].Port].Name != "a" {
		t.Errorf("got markers %+v, want the console's one on a", m.Markers)
	}

	// A foreign empty capture has no ports and builds too.
	m = build(t, Options{Capture: emptyPcap(t)})
	if len(m.Ports) != 0 || len(m.Frames) != 0 || m.Inferred {
		t.Errorf("empty pcap: got ports %q, %d frames, inferred %v, want none", portNames(m), len(m.Frames), m.Inferred)
	}
}

// TestEmptyPageData: the page's JSON has lists, never null, for a capture
// of no frame (the page's script maps over them).
func TestEmptyPageData(t *testing.T) {
	for _, path := range []string{emptyL2hubCapture(t), emptyPcap(t)} {
		var page strings.Builder
		if err := build(t, Options{Capture: path}).WriteHTML(&page); err != nil {
			t.Fatal(err)
		}
		s := page.String()
		const open = `<script type="application/json" id="l2hub-data">`
		i := strings.Index(s, open)
		j := strings.Index(s[i:], "</script>")
		if i < 0 || j < 0 {
			t.Fatalf("%s: no data in the page", path)
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(s[i+len(open):i+j]), &data); err != nil {
			t.Fatal(err)
		}
		for k, v := range data {
			if v == nil && k != "check" { // check is null when no check ran
				t.Errorf("%s: got %q null in the page's data, want a list", filepath.Base(path), k)
			}
		}
	}
}

// TestBrowserEmptyCapture opens the reports of an empty l2hub capture and
// an empty pcap: the first draws the lifelines of its ports, both say
// there are no frames, and neither page says anything on its console.
func TestBrowserEmptyCapture(t *testing.T) {
	b := newBrowser(t, 1200, 800)
	for _, tt := range []struct {
		name      string
		capture   string
		lifelines []string
	}{
		{"l2hub", emptyL2hubCapture(t), []string{"a", "b"}},
		{"pcap", emptyPcap(t), nil},
	} {
		b.open(t, writePage(t, Options{Capture: tt.capture}))
		s := b.shown(t)
		if !slices.Equal(s.Lifelines, tt.lifelines) || s.Hub != 1 || s.Drawn != 0 {
			t.Errorf("%s: got lifelines %q, hub %d, %d rows, want %q and the hub, no row", tt.name, s.Lifelines, s.Hub, s.Drawn, tt.lifelines)
		}
		if notes := eval[string](t, b, `document.getElementById('notes').textContent`); !strings.Contains(notes, "No frames") {
			t.Errorf("%s: got notes %q, want one saying there are no frames", tt.name, notes)
		}
		if p := b.said(); len(p) > 0 {
			t.Errorf("%s: got the page saying %q, want a quiet console", tt.name, p)
		}
	}
}

// TestEveryFrameDropped: an l2hub capture of both points whose every frame
// a partition dropped records that no port got one; nothing is inferred,
// and nothing warns that the capture has no egress records. The same run
// captured at ingress only is inferred.
func TestEveryFrameDropped(t *testing.T) {
	policy := writeTemp(t, "cut.yaml", []byte("partitions:\n  - {name: cut, groups: a|b, start: 0s}\n"))
	traffic := func(s *hubtest.Sim) {
		for i := range 5 {
			s.SendAt(time.Duration(i)*100*time.Millisecond, "a", udpFrame("a", "b", 9, uint32(i), 0))
			s.SendAt(time.Duration(i)*100*time.Millisecond+time.Millisecond, "b", udpFrame("b", "a", 9, uint32(i), 0))
		}
	}
	m := build(t, Options{Capture: simCapture(t, policy, []string{"a", "b"}, traffic)})
	if len(m.Frames) != 10 {
		t.Fatalf("got %d frames, want the 10 sent", len(m.Frames))
	}
	if m.Inferred {
		t.Error("got deliveries inferred from a capture of both points, want none")
	}
	for _, f := range m.Frames {
		if len(f.Deliveries) != 0 || len(f.Drops) == 0 || !strings.Contains(f.Drops[0].Reason, "partition") {
			t.Errorf("frame %d: got deliveries %+v, drops %+v, want the partition's drop only", f.Number, f.Deliveries, f.Drops)
		}
	}
	var page strings.Builder
	if err := m.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), `"inferred":true`) {
		t.Error("the page says its deliveries are inferred")
	}

	m = build(t, Options{Capture: simCapturePoints(t, policy, []string{"a", "b"}, capture.PointsIngress, traffic)})
	if !m.Inferred {
		t.Error("got no inference for a capture of ingress only, want deliveries inferred")
	}
}

// TestPortsOfEverySection: a file of two captures one after the other (cat
// a.pcapng b.pcapng) has the ports of both, also those of the first that
// sent no frame.
func TestPortsOfEverySection(t *testing.T) {
	policy := writeTemp(t, "none.yaml", []byte("seed: 1\n"))
	second := simCapture(t, policy, []string{"c", "d"}, func(s *hubtest.Sim) {
		s.Send("c", udpFrame("c", "d", 9, 1, 20))
	})
	var both []byte
	for _, path := range []string{emptyL2hubCapture(t), second} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, b...)
	}
	m := build(t, Options{Capture: writeTemp(t, "both.pcapng", both)})
	if got := portNames(m); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("got ports %q, want a and b of the first section, c and d of the second", got)
	}
	if len(m.Frames) != 1 {
		t.Errorf("got %d frames, want the second section's one", len(m.Frames))
	}
}

// TestLifelinesByInterface: a lifeline is an interface, not a name. Two
// interfaces whose names read alike once cleaned ("c\a" and "c"), or a
// name and an unnamed interface's stand-in ("if1" and interface 1), are
// two lifelines with names told apart, and a frame between them is drawn
// from one to the other; so are two interfaces of the same name. Unnamed interfaces of two sections are two
// lifelines too; a named one in a later section continues its lifeline.
func TestLifelinesByInterface(t *testing.T) {
	frame := udpFrame("a", "b", 9, 1, 0)
	t.Run("one-section", func(t *testing.T) {
		path := writeTemp(t, "coll.pcapng", pcapngFile([]string{"if1", "", "c\a", "c"}, []string{"", "", "", ""}, []rec{
			{1, 1e9, true, frame, ""}, {0, 1e9, false, frame, ""},
			{2, 2e9, true, frame, ""}, {3, 2e9, false, frame, ""},
		}))
		m := build(t, Options{Capture: path})
		if got, want := portNames(m), []string{"if1", "if1 (2)", "c", "c (2)"}; !slices.Equal(got, want) {
			t.Errorf("got lifelines %q, want %q", got, want)
		}
		if len(m.Frames) != 2 {
			t.Fatalf("got %d frames, want 2:\n%s", len(m.Frames), describe(m))
		}
		for i, want := range [][2]int{{1, 0}, {2, 3}} {
			f := m.Frames[i]
			if f.From != want[0] || len(f.Deliveries) != 1 || f.Deliveries[0].To != want[1] {
				t.Errorf("got frame %d from %d to %+v, want from %d to %d", f.Number, f.From, f.Deliveries, want[0], want[1])
			}
		}
	})
	t.Run("same-name-one-section", func(t *testing.T) {
		m := build(t, Options{Capture: writeTemp(t, "same.pcapng", pcapngFile([]string{"c", "c"}, []string{"", ""}, []rec{
			{0, 1e9, true, frame, ""}, {1, 1e9, false, frame, ""},
		}))})
		if got, want := portNames(m), []string{"c", "c (2)"}; !slices.Equal(got, want) {
			t.Errorf("got lifelines %q, want %q", got, want)
		}
		if len(m.Frames) != 1 || m.Frames[0].From != 0 || len(m.Frames[0].Deliveries) != 1 || m.Frames[0].Deliveries[0].To != 1 {
			t.Errorf("got frames %s, want one from c to c (2)", describe(m))
		}
	})
	t.Run("two-sections", func(t *testing.T) {
		first := pcapngFile([]string{"", "a"}, []string{"", ""}, []rec{{0, 1e9, true, frame, ""}, {1, 1e9, false, frame, ""}})
		second := pcapngFile([]string{"", "a"}, []string{"", ""}, []rec{{0, 2e9, true, frame, ""}, {1, 2e9, false, frame, ""}})
		m := build(t, Options{Capture: writeTemp(t, "two.pcapng", append(first, second...))})
		if got, want := portNames(m), []string{"if0", "a", "if0 (2)"}; !slices.Equal(got, want) {
			t.Errorf("got lifelines %q, want %q", got, want)
		}
		if len(m.Frames) != 2 || m.Frames[0].From != 0 || m.Frames[1].From != 2 ||
			len(m.Frames[1].Deliveries) != 1 || m.Frames[1].Deliveries[0].To != 1 {
			t.Errorf("got frames %s, want one from each unnamed interface, both to a", describe(m))
		}
	})
}

// TestPageDataIsRead: every field of the page's data is one the page's
// script reads (D.name, the whole name: D.frames does not count for a
// field "frame"): no field is carried for nothing.
func TestPageDataIsRead(t *testing.T) {
	data := pageJSON(t, page(t, Options{Capture: failingRun, Check: "nexus-v1"}))
	for k := range data {
		if !regexp.MustCompile(`\bD\.` + regexp.QuoteMeta(k) + `\b`).MatchString(pageJS) {
			t.Errorf("got %q in the page's data, which page.js never reads", k)
		}
	}
}
