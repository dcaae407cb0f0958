package report

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub/hubtest"
)

// TestEgressOnly: a capture of egress only (--capture-points egress) has
// no ingress record, so no record says who sent a frame. Its copies are
// joined into one frame by their bytes and time (a held copy to the one
// sent before it), each frame's sender is told from its source MAC (the
// port that never got a frame from it, else the one of those that got
// frames addressed to it), alike frames group, and a warning says how
// the page was drawn. The audit: 11 frames from the hub, a broadcast as
// one per copy, no group, no warning.
func TestEgressOnly(t *testing.T) {
	policy := writeTemp(t, "lag.yaml", []byte("seed: 1\nrules:\n  - {name: lag, match: {link: a->c}, delay: 20ms}\n"))
	path := simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
		s.SendAt(0, "a", broadcastFrame("a", 1))
		s.SendAt(10*time.Millisecond, "c", broadcastFrame("c", 2))
		s.SendAt(100*time.Millisecond, "b", udpFrame("b", "a", 9, 3, 0)) // b sends only unicast
		s.SendAt(110*time.Millisecond, "a", udpFrame("a", "b", 9, 4, 0))
		for i := range 5 {
			s.SendAt(200*time.Millisecond+time.Duration(i)*10*time.Millisecond, "a", udpFrame("a", "b", 7, uint32(10+i), 0))
		}
	})
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	name := func(p int) string {
		if p < 0 {
			return "hub"
		}
		return m.Ports[p].Name
	}
	var got []string
	for _, f := range m.Frames {
		line := fmt.Sprintf("%s %s %s ->", fmtDur(f.Time), name(f.From), f.Label.Text)
		for _, d := range f.Deliveries {
			line += fmt.Sprintf(" %s@%s", name(d.To), fmtDur(d.Time))
			if d.Kind&Delayed != 0 {
				line += " delayed"
			}
		}
		got = append(got, line)
	}
	want := []string{
		"0.000s a UDP 9 -> b@0.000s c@0.020s delayed",
		"0.010s c UDP 9 -> a@0.010s b@0.010s",
		"0.100s b UDP 9 -> a@0.100s",
		"0.110s a UDP 9 -> b@0.110s",
		"0.200s a UDP 7 -> b@0.200s",
		"0.210s a UDP 7 -> b@0.210s",
		"0.220s a UDP 7 -> b@0.220s",
		"0.230s a UDP 7 -> b@0.230s",
		"0.240s a UDP 7 -> b@0.240s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got frames\n%q\nwant\n%q", got, want)
	}
	if len(m.Groups) != 1 || m.Groups[0].Label != "UDP 7" || len(m.Groups[0].Frames) != 5 || m.Groups[0].First == 0 || m.Groups[0].Last <= m.Groups[0].First {
		t.Errorf("got groups %+v, want a's five UDP 7 frames, numbered by their copies", m.Groups)
	}
	if !hasWarning(m, "the capture records egress only") || hasWarning(m, "could not be told") {
		t.Errorf("got warnings %q, want one that says the capture records egress only, every sender told", m.Warnings)
	}
}

// TestEgressOnlyUnknownSender: a MAC that only sent unicast frames, in a
// capture of egress only where nothing was sent to it, could be behind any
// port that never got a frame from it: its frames are drawn from the hub,
// and the warning counts them.
func TestEgressOnlyUnknownSender(t *testing.T) {
	policy := writeTemp(t, "none.yaml", []byte("seed: 1\n"))
	path := simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
		s.SendAt(0, "b", broadcastFrame("b", 1))
		s.SendAt(10*time.Millisecond, "a", udpFrame("a", "b", 9, 2, 0))
	})
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	if len(m.Frames) != 2 || m.Frames[0].From != 1 || m.Frames[1].From != -1 {
		t.Errorf("got %s, want b's broadcast from b and a's unicast from the hub", describe(m))
	}
	if !hasWarning(m, "1 of 2 frames' senders could not be told so and are drawn from the hub") {
		t.Errorf("got warnings %q, want one counting the frame whose sender is not known", m.Warnings)
	}
}
