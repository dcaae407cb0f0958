package report

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// broadcastFrame is udpFrame sent to every port.
func broadcastFrame(from string, seq uint32) []byte {
	f := udpFrame(from, "a", 9, seq, 0)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return f
}

// injectedCapture records a run of ports a, b and c at the given points:
// each sends a broadcast (the checker and infer learn their MACs), a
// sends a unicast frame to b, and a second later the control API injects
// the same bytes into c (l2hub inject of a recorded frame).
func injectedCapture(t *testing.T, points capture.Points) string {
	policy := writeTemp(t, "none.yaml", []byte("seed: 1\n"))
	return simCapturePoints(t, policy, []string{"a", "b", "c"}, points, func(s *hubtest.Sim) {
		for i, p := range []string{"a", "b", "c"} {
			s.SendAt(time.Duration(i)*10*time.Millisecond, p, withChecksums(broadcastFrame(p, uint32(i))))
		}
		x := withChecksums(udpFrame("a", "b", 6666, 100, 20))
		s.SendAt(time.Second, "a", x)
		s.AdvanceTo(2 * time.Second)
		c, _ := s.Core().Lookup("c")
		if r := s.Core().Inject(c, hub.FrameOf(x), hub.InjectNotes); r != hub.DropNone {
			t.Fatalf("Inject into c: %v", r)
		}
		s.Advance(0)
	})
}

// TestInjectedFrame: a frame the control API injected is a frame of the
// hub's own, marked injected, even when its bytes are those of a frame a
// VM sent before (the audit: it was drawn as a's frame reaching c a
// second late, and in an ingress capture as reaching b twice); the
// checker's findings on it are pinned to it, and the page says so.
func TestInjectedFrame(t *testing.T) {
	for _, tt := range []struct {
		name   string
		points capture.Points
	}{
		{"points-both", capture.PointsBoth},
		{"points-ingress", capture.PointsIngress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := injectedCapture(t, tt.points)
			m := build(t, Options{Capture: path, Check: "nexus-v1"})
			everyRecordDrawn(t, m)
			port := func(name string) int { return slices.IndexFunc(m.Ports, func(p Port) bool { return p.Name == name }) }
			a, b, c := port("a"), port("b"), port("c")
			var inj, x = -1, -1
			for i, f := range m.Frames {
				switch {
				case f.Injected:
					inj = i
				case f.From == a && f.Label.Proto == ProtoUDP && f.Data[0]&1 == 0:
					x = i
				}
			}
			if inj < 0 || x < 0 {
				t.Fatalf("got no injected frame (%d) or no unicast frame from a (%d):\n%s", inj, x, describe(m))
			}
			fi := m.Frames[inj]
			if fi.From != -1 || fi.Number != 0 || len(fi.Deliveries) != 1 || fi.Deliveries[0].To != c ||
				fi.Deliveries[0].Kind != Injected || fi.Deliveries[0].Number == 0 {
				t.Errorf("got the injected frame from %d, #%d, delivered %+v; want from the hub, no ingress record, one injected delivery to c", fi.From, fi.Number, fi.Deliveries)
			}
			var to []string
			for _, d := range m.Frames[x].Deliveries {
				to = append(to, fmt.Sprintf("%s kind %d", m.Ports[d.To].Name, d.Kind))
			}
			want := []string{"b kind 0"}
			if tt.points == capture.PointsIngress {
				want = []string{fmt.Sprintf("b kind %d", Inferred)}
			}
			if !slices.Equal(to, want) || b < 0 {
				t.Errorf("got a's frame #%d delivered to %q, want %q only", m.Frames[x].Number, to, want)
			}
			n := fi.Deliveries[0].Number
			pinned := 0
			for _, f := range m.Findings {
				if !slices.Contains(f.Frames, n) {
					continue
				}
				pinned++
				if !slices.Contains(f.Pins, inj) || slices.Contains(f.Pins, x) {
					t.Errorf("got finding %s %s citing #%d pinned to frames %v, want the injected one (%d), not a's (%d)", f.Verdict, f.ID, n, f.Pins, inj, x)
				}
			}
			if pinned == 0 {
				t.Errorf("got no finding citing the injected record #%d, want CHK-002's: %s", n, describe(m))
			}
			data := pageJSON(t, page(t, Options{Capture: path}))
			row := data["frames"].([]any)[inj].([]any)
			if len(row) != 14 || fmt.Sprint(row[13]) != "1" {
				t.Errorf("got the page's row of the injected frame %v, want it to end with its injected mark", row)
			}
		})
	}
}

// TestBrowserInjectedFrame: the details of an injected frame say it was
// injected, not "injected, or sent before the capture began".
func TestBrowserInjectedFrame(t *testing.T) {
	capture := injectedCapture(t, capture.PointsBoth)
	m := build(t, Options{Capture: capture})
	n := 0
	for _, f := range m.Frames {
		if f.Injected {
			n = f.Deliveries[0].Number
		}
	}
	path := writePage(t, Options{Capture: capture})
	b := newBrowser(t, 1200, 800)
	b.open(t, path)
	detail := eval[string](t, b, fmt.Sprintf(`(() => { window.l2hubReport.gotoFrame(%d); return document.getElementById('detail').textContent; })()`, n))
	if !strings.Contains(detail, "hub (injected)") || strings.Contains(detail, "before the capture began") ||
		!strings.Contains(detail, "c's copy of a frame the hub injected") || !strings.Contains(detail, "· injected") {
		t.Errorf("got details %q, want them to say the hub injected it", detail)
	}
	if said := b.said(); len(said) > 0 {
		t.Errorf("the page said %q, want nothing", said)
	}
}
