package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub/hubtest"
)

// egressOnlyCapture records a run at egress only: broadcasts from a
// (held 20 ms for c) and c, a unicast frame from b and one from a, then
// five alike frames from a to b.
func egressOnlyCapture(t *testing.T) string {
	policy := writeTemp(t, "lag.yaml", []byte("seed: 1\nrules:\n  - {name: lag, match: {link: a->c}, delay: 20ms}\n"))
	return simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
		s.SendAt(0, "a", broadcastFrame("a", 1))
		s.SendAt(10*time.Millisecond, "c", broadcastFrame("c", 2))
		s.SendAt(100*time.Millisecond, "b", udpFrame("b", "a", 9, 3, 0)) // b sends only unicast
		s.SendAt(110*time.Millisecond, "a", udpFrame("a", "b", 9, 4, 0))
		for i := range 5 {
			s.SendAt(200*time.Millisecond+time.Duration(i)*10*time.Millisecond, "a", udpFrame("a", "b", 7, uint32(10+i), 0))
		}
	})
}

// TestEgressOnly: a capture of egress only (--capture-points egress) has
// no ingress record, so no record says who sent a frame. Its copies are
// joined into one frame by their bytes and time (a held copy to the one
// sent before it), each frame's sender is told from its source MAC (the
// port that never got a frame from it, else the one of those that got
// frames addressed to it), alike frames group, and a warning says how
// the page was drawn. The audit: 11 frames from the hub, a broadcast as
// one per copy, no group, no warning.
func TestEgressOnly(t *testing.T) {
	m := build(t, Options{Capture: egressOnlyCapture(t)})
	everyRecordDrawn(t, m)
	var got []string
	for _, f := range m.Frames {
		line := fmt.Sprintf("%s %s %s ->", fmtDur(f.Time), portName(m, f.From), f.Label.Text)
		for _, d := range f.Deliveries {
			line += fmt.Sprintf(" %s@%s", portName(m, d.To), fmtDur(d.Time))
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

// egressCopies maps each egress record of m (a copy or a dropped copy) to
// the frame drawing it: its index, sender and time.
func egressCopies(m *Model) map[int]Frame {
	at := map[int]Frame{}
	for fi, f := range m.Frames {
		f.Group = fi // the frame's index, for telling frames apart
		for _, d := range f.Deliveries {
			at[d.Number] = f
		}
		for _, d := range f.Drops {
			if d.Number != f.Number {
				at[d.Number] = f
			}
		}
	}
	return at
}

// TestEgressOnlyAsRecordedAtBoth: the run of every impairment recorded at
// egress only is drawn as the same run recorded at both points: each copy
// (delivered or dropped) on a frame from the same sender, sent at the same
// time, with the same other copies. The audit of the first version: a
// corrupted copy joined a frame another VM sent at the same instant, which
// hid the sender of every frame from that VM's MAC (14 460 copies drawn from
// the hub), and a frame whose every copy was held was drawn when it
// arrived.
func TestEgressOnlyAsRecordedAtBoth(t *testing.T) {
	both := build(t, Options{Capture: everyImpairmentAt(t, capture.PointsBoth)})
	egress := build(t, Options{Capture: everyImpairmentAt(t, capture.PointsEgress)})
	everyRecordDrawn(t, egress)
	truth, got := egressCopies(both), egressCopies(egress)
	nums := slices.Sorted(maps.Keys(truth))
	if len(got) != len(nums) {
		t.Fatalf("got %d egress records drawn, want %d", len(got), len(nums))
	}
	rank := map[int]int{} // record number at both points -> egress-only
	egressNums := slices.Sorted(maps.Keys(got))
	for i, n := range nums {
		rank[n] = egressNums[i]
	}
	sameFrame := map[[2]int]bool{} // frame at both -> frame at egress
	wrong := 0
	for _, n := range nums {
		w, g := truth[n], got[rank[n]]
		sameFrame[[2]int{w.Group, g.Group}] = true
		if w.From != g.From || w.Time != g.Time {
			if wrong++; wrong <= 5 {
				t.Errorf("record #%d (#%d at both points): got a frame from %d sent at %s, want from %d at %s", rank[n], n, g.From, fmtDur(g.Time), w.From, fmtDur(w.Time))
			}
		}
	}
	if wrong > 5 {
		t.Errorf("... %d records in all on a frame of the wrong sender or time", wrong)
	}
	ofTruth, ofGot := map[int]int{}, map[int]int{}
	for k := range sameFrame {
		ofTruth[k[0]]++
		ofGot[k[1]]++
	}
	split, merged := 0, 0
	for _, c := range ofTruth {
		split += c - 1
	}
	for _, c := range ofGot {
		merged += c - 1
	}
	if split != 0 || merged != 0 {
		t.Errorf("got %d frames split into more and %d frames made of several, want none", split, merged)
	}
	if hasWarning(egress, "could not be told") {
		t.Errorf("got warnings %q, want every sender told", egress.Warnings)
	}
}

// TestEgressOnlyCorruptedFirstCopy: a broadcast whose first recorded copy
// is the corrupted one is one frame, made of the bytes the corrupt note's
// bits give back, so its clean copies join it (the audit: two frames, the
// first of the corrupted bytes).
func TestEgressOnlyCorruptedFirstCopy(t *testing.T) {
	policy := writeTemp(t, "rot.yaml", []byte("seed: 1\nrules:\n  - {name: rot, match: {link: a->b}, corrupt: {probability: 100%, bits: 1}}\n"))
	path := simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
		for i, p := range []string{"a", "b", "c"} {
			s.SendAt(time.Duration(i)*10*time.Millisecond, p, broadcastFrame(p, uint32(i)))
		}
	})
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	want := "a: b corrupted, c | b: a, c | c: a, b"
	if got := egressSummary(m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if f := m.Frames[0]; !slices.Equal(f.Data, broadcastFrame("a", 0)) {
		t.Errorf("got a's frame's bytes %x, want those it sent", f.Data)
	}
}

// egressSummary is each frame's sender and receivers: "a: b corrupted, c |
// ...", "hub" for a frame from the hub.
func egressSummary(m *Model) string {
	var frames []string
	for _, f := range m.Frames {
		var to []string
		for _, d := range f.Deliveries {
			s := portName(m, d.To)
			if d.Kind&Corrupted != 0 {
				s += " corrupted"
			}
			to = append(to, s)
		}
		frames = append(frames, portName(m, f.From)+": "+strings.Join(to, ", "))
	}
	return strings.Join(frames, " | ")
}

// egressHeader is the l2hub header of a capture of egress only.
const egressHeader = "l2hub capture\nversion=test\nstart=1970-01-01T00:00:00Z\npoints=egress\npart=0"

// egressFile writes recs as a capture of egress only of ports a, b and c,
// and returns its path.
func egressFile(t *testing.T, recs []rec) string {
	t.Helper()
	return writeTemp(t, "egress.pcapng", pcapngSection(egressHeader, []string{"a", "b", "c"}, []string{"", "", ""}, recs))
}

// TestEgressOnlyCorruptedWithoutBits: a corrupted copy whose note does not
// say which bits were flipped is not joined to a frame another host sent at
// the same instant, however few bits they differ by (b's frame to c and c's
// to a, both 66 bytes), and its bytes tell no sender: c's frames are still
// c's (the review: the copy joined c's frame, so c "received" its own frame
// and every frame from c was drawn from the hub). One joined by its likeness
// alone tells nothing of where its frame's MAC is.
func TestEgressOnlyCorruptedWithoutBits(t *testing.T) {
	var recs []rec
	ports := map[string]int{"a": 0, "b": 1, "c": 2}
	at := func(ns uint64, to string, data []byte, comment string) {
		recs = append(recs, rec{ports[to], ns, false, data, comment})
	}
	for i, p := range []string{"a", "b", "c"} { // each MAC's port is told by a broadcast
		for _, q := range []string{"a", "b", "c"} {
			if q != p {
				at(uint64(1e8*(i+1)), q, broadcastFrame(p, uint32(i)), "")
			}
		}
	}
	at(1e9, "a", udpFrame("c", "a", 9, 2, 20), "")
	x := udpFrame("b", "c", 9, 1, 20)
	x[40] ^= 0x10 // the one bit flipped
	at(1e9, "c", x, "rule rot: corrupt (p=1)")
	at(2e9, "a", udpFrame("c", "a", 9, 3, 20), "")
	// b's frame to a, its source MAC corrupted into a's, with a's frame
	// to c at the same instant: the copy may be joined to a's frame by
	// its likeness, but does not make a's port one that got a's frames.
	at(3e9, "c", udpFrame("a", "c", 9, 4, 20), "")
	y := udpFrame("b", "a", 9, 5, 20)
	y[11] ^= 0x01 // 52:54:00:12:34:0b becomes a's 0a
	at(3e9, "a", y, "rule rot: corrupt (p=1)")
	path := egressFile(t, recs)
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	want := "a: b, c | b: a, c | c: a, b | c: a | hub: c corrupted | c: a | a: c, a corrupted"
	if got := egressSummary(m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !hasWarning(m, "1 of 7 frames' senders could not be told") {
		t.Errorf("got warnings %q, want one counting the corrupted copy's frame", m.Warnings)
	}
}

// TestEgressOnlyHeldCopies: in a capture of egress only, a held copy joins
// the frame sent when its wait began (its arrival less the wait its notes
// give), not the oldest one with its bytes still waiting for a copy: a copy
// lost at ingress (a loss rule: not recorded at egress) left one waiting.
// A frame whose every copy was held is drawn when it was sent.
func TestEgressOnlyHeldCopies(t *testing.T) {
	t.Run("lost-at-ingress", func(t *testing.T) {
		policy := writeTemp(t, "lossy.yaml", []byte("seed: 3\nrules:\n  - {name: lag, match: {link: a->c}, delay: 20ms}\n  - {name: lossy, match: {link: a->c}, loss: 30%}\n"))
		run := func(points capture.Points) *Model {
			return build(t, Options{Capture: simCapturePoints(t, policy, []string{"a", "b", "c"}, points, func(s *hubtest.Sim) {
				for i := range 8 { // the same announce every 64 ms
					s.SendAt(time.Duration(i)*64*time.Millisecond, "a", broadcastFrame("a", 7))
				}
			})})
		}
		delivered := func(m *Model) []string {
			var out []string
			for _, f := range m.Frames {
				for _, d := range f.Deliveries {
					if m.Ports[d.To].Name == "c" {
						out = append(out, fmt.Sprintf("%s+%s", fmtDur(f.Time), d.Time-f.Time))
					}
				}
			}
			return out
		}
		got, want := delivered(run(capture.PointsEgress)), delivered(run(capture.PointsBoth))
		if len(want) == 8 || !slices.Equal(got, want) {
			t.Errorf("got c's copies on the frames sent at %q, want %q (some lost)", got, want)
		}
	})
	t.Run("every-copy-held", func(t *testing.T) {
		policy := writeTemp(t, "lag.yaml", []byte("seed: 1\nrules:\n  - {name: lag, match: {link: a->b}, delay: 50ms}\n"))
		m := build(t, Options{Capture: simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
			s.SendAt(0, "b", broadcastFrame("b", 1))
			s.SendAt(time.Millisecond, "c", udpFrame("c", "a", 9, 2, 0)) // a's MAC is a's
			for i := range 3 {
				s.SendAt(100*time.Millisecond+time.Duration(i)*10*time.Millisecond, "a", udpFrame("a", "b", 9, uint32(10+i), 0))
			}
			s.SendAt(125*time.Millisecond, "c", udpFrame("c", "b", 9, 20, 0))
		})})
		everyRecordDrawn(t, m)
		var got []string
		for _, f := range m.Frames {
			for _, d := range f.Deliveries {
				got = append(got, fmt.Sprintf("%s %s->%s +%s", fmtDur(f.Time), m.Ports[max(f.From, 0)].Name, m.Ports[d.To].Name, d.Time-f.Time))
			}
		}
		want := []string{"0.000s b->a +0s", "0.000s b->c +0s", "0.001s c->a +0s", "0.001s c->b +0s",
			"0.100s a->b +50ms", "0.110s a->b +50ms", "0.120s a->b +50ms", "0.125s c->b +0s"}
		if !slices.Equal(got, want) {
			t.Errorf("got\n%q\nwant frames drawn when they were sent, in that order\n%q", got, want)
		}
	})
	t.Run("wait-not-said", func(t *testing.T) {
		// Broadcasts from a, each copied at once to c and held for b by a
		// note that does not say how long: b's copy of the first is the
		// copy of the one frame with its bytes; of the next two, which
		// are the same, each could be either's.
		var recs []rec
		for _, r := range []struct {
			ns      uint64
			to      int
			seq     uint32
			comment string
		}{{1e9, 2, 1, ""}, {1.05e9, 1, 1, "rule lag: delay"},
			{2e9, 2, 2, ""}, {2.01e9, 2, 2, ""}, {2.05e9, 1, 2, "rule lag: delay"}, {2.06e9, 1, 2, "rule lag: delay"}} {
			recs = append(recs, rec{r.to, r.ns, false, broadcastFrame("a", r.seq), r.comment})
		}
		m := build(t, Options{Capture: egressFile(t, recs)})
		everyRecordDrawn(t, m)
		var got []string
		for _, f := range m.Frames {
			var to []string
			for _, d := range f.Deliveries {
				to = append(to, fmt.Sprintf("#%d", d.Number))
			}
			got = append(got, fmt.Sprintf("%s %s", fmtDur(f.Time), strings.Join(to, " ")))
		}
		want := []string{"1.000s #1 #2", "2.000s #3", "2.010s #4", "2.050s #5", "2.060s #6"}
		if !slices.Equal(got, want) {
			t.Errorf("got frames %q, want %q", got, want)
		}
		if !hasWarning(m, "2 delayed copies could belong to any of several identical frames") {
			t.Errorf("got warnings %q, want one counting the copies left alone", m.Warnings)
		}
	})
}

// TestEgressOnlySharedMAC: a MAC seen behind two ports (b sends with a's
// MAC, and the switch then sends a frame addressed to it to b) is given to
// neither: its frames are drawn from the hub, and the warning counts it
// (the audit: every frame with a's MAC was drawn from a).
func TestEgressOnlySharedMAC(t *testing.T) {
	policy := writeTemp(t, "none.yaml", []byte("seed: 1\n"))
	path := simCapturePoints(t, policy, []string{"a", "b", "c"}, capture.PointsEgress, func(s *hubtest.Sim) {
		s.SendAt(0, "a", broadcastFrame("a", 1))
		s.SendAt(10*time.Millisecond, "c", broadcastFrame("c", 2))
		s.SendAt(20*time.Millisecond, "b", udpFrame("a", "c", 9, 3, 0)) // a's MAC, from b
		s.SendAt(30*time.Millisecond, "c", udpFrame("c", "a", 9, 4, 0)) // to a's MAC: the switch sends it to b
	})
	m := build(t, Options{Capture: path})
	everyRecordDrawn(t, m)
	if want, got := "hub: b, c | c: a, b | hub: c | c: b", egressSummary(m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !hasWarning(m, "2 of 4 frames' senders could not be told so and are drawn from the hub (1 MACs were seen behind more than one port)") {
		t.Errorf("got warnings %q, want one counting the MAC behind two ports", m.Warnings)
	}
}

// TestBrowserEgressOnlyGroup: the details of a group of frames with no
// ingress record (egress only) name its first frame by its first copy's
// number, not "frame 0".
func TestBrowserEgressOnlyGroup(t *testing.T) {
	opts := Options{Capture: egressOnlyCapture(t)}
	m := build(t, opts)
	if len(m.Groups) != 1 {
		t.Fatalf("got %d groups, want 1", len(m.Groups))
	}
	b := newBrowser(t, 1200, 800)
	b.open(t, writePage(t, opts))
	detail := eval[string](t, b, `(() => { document.querySelector('#svg g[data-k="g"] line.hit').dispatchEvent(new MouseEvent('click', {bubbles: true}));
		return document.getElementById('detail').textContent; })()`)
	if want := fmt.Sprintf("First of them, frame %d:", m.Groups[0].First); !strings.Contains(detail, want) {
		t.Errorf("got the group's details %q, want them to say %q", detail, want)
	}
	if said := b.said(); len(said) > 0 {
		t.Errorf("the page said %q, want nothing", said)
	}
}

// TestEgressOnlyHubMode: in hub mode (the header's mode=hub) every frame
// goes to every other port, so a frame addressed to a MAC that reached one
// port only, the others' copies lost at ingress (a loss rule: not
// recorded at egress), says nothing of where that MAC is: a's frames are
// still a's. In switch mode the same copy says a's MAC was learned behind
// b.
func TestEgressOnlyHubMode(t *testing.T) {
	var recs []rec
	ports := map[string]int{"a": 0, "b": 1, "c": 2}
	at := func(ns uint64, to string, data []byte) { recs = append(recs, rec{ports[to], ns, false, data, ""}) }
	for i, p := range []string{"a", "b", "c"} { // each MAC's port is told by a broadcast
		for _, q := range []string{"a", "b", "c"} {
			if q != p {
				at(uint64(1e9*(i+1)), q, broadcastFrame(p, uint32(i)))
			}
		}
	}
	at(4e9, "b", udpFrame("c", "a", 9, 4, 0)) // c's frame to a, flooded: its copy to a lost
	for _, tc := range []struct{ mode, want string }{
		{"hub", "a: b, c | b: a, c | c: a, b | c: b"},
		{"switch", "hub: b, c | b: a, c | c: a, b | c: b"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			path := writeTemp(t, "egress.pcapng", pcapngSection(egressHeader+"\nmode="+tc.mode, []string{"a", "b", "c"}, []string{"", "", ""}, recs))
			m := build(t, Options{Capture: path})
			everyRecordDrawn(t, m)
			if got := egressSummary(m); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEgressOnlyGarbledCopyTellsNoSender: a corrupted copy whose note does
// not say which bits were flipped, and that no frame of its source MAC was
// sent with, is a frame of its own drawn from the hub, and its bytes tell
// no sender: b's frame to a, its source MAC corrupted into a's, does not
// make a's port one that got a frame from a's MAC, so a's frames are
// still a's.
func TestEgressOnlyGarbledCopyTellsNoSender(t *testing.T) {
	var recs []rec
	ports := map[string]int{"a": 0, "b": 1, "c": 2}
	at := func(ns uint64, to string, data []byte, comment string) {
		recs = append(recs, rec{ports[to], ns, false, data, comment})
	}
	for i, p := range []string{"a", "b", "c"} {
		for _, q := range []string{"a", "b", "c"} {
			if q != p {
				at(uint64(1e9*(i+1)), q, broadcastFrame(p, uint32(i)), "")
			}
		}
	}
	y := udpFrame("b", "a", 9, 5, 20)
	y[11] ^= 0x01 // 52:54:00:12:34:0b becomes a's 0a
	at(4e9, "a", y, "rule rot: corrupt (p=1)")
	at(5e9, "c", udpFrame("a", "c", 9, 6, 20), "")
	m := build(t, Options{Capture: egressFile(t, recs)})
	everyRecordDrawn(t, m)
	if want, got := "a: b, c | b: a, c | c: a, b | hub: a corrupted | a: c", egressSummary(m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestEgressOnlyDelayFull: a copy a delay rule could not hold (the hub's
// delay-full: too many frames waiting) is dropped when its frame was sent,
// not at the end of a wait it never had, so it joins the frame its other
// copy made (the review: it was matched as if sent 20 ms before, to no
// frame).
func TestEgressOnlyDelayFull(t *testing.T) {
	f := broadcastFrame("a", 1)
	recs := []rec{
		{1, 1e9, false, f, ""},
		{2, 1e9, false, f, "dropped: rule lag: delay (20ms); delay-full (too many frames waiting for their delay (CoreConfig.MaxDelayedFrames/MaxDelayedBytes))"},
	}
	m := build(t, Options{Capture: egressFile(t, recs)})
	everyRecordDrawn(t, m)
	if len(m.Frames) != 1 || len(m.Frames[0].Drops) != 1 || m.Frames[0].Drops[0].Action != "delay-full" {
		t.Errorf("got %s, want one frame, delivered to b and dropped (delay-full) for c", describe(m))
	}
}

// TestEgressOnlyHeldCopyOfNoRecordedFrame: a held copy whose frame has no
// other copy recorded (each was held, or lost at ingress) is a frame of its
// own, drawn when it was sent, even though an identical frame sent earlier
// is one its port may still get (its copy to b lost at ingress): a held
// copy joins only a frame sent when its wait began.
func TestEgressOnlyHeldCopyOfNoRecordedFrame(t *testing.T) {
	f := broadcastFrame("a", 1)
	recs := []rec{
		{2, 1e9, false, f, ""}, // the first: its copy to b lost
		{1, 2.05e9, false, f, "rule lag: delay (50ms)"},
		{2, 2.05e9, false, f, "rule lag: delay (50ms)"},
	}
	m := build(t, Options{Capture: egressFile(t, recs)})
	everyRecordDrawn(t, m)
	var got []string
	for _, f := range m.Frames {
		var to []string
		for _, d := range f.Deliveries {
			to = append(to, fmt.Sprintf("%s@%s", m.Ports[d.To].Name, fmtDur(d.Time)))
		}
		got = append(got, fmt.Sprintf("%s %s", fmtDur(f.Time), strings.Join(to, " ")))
	}
	if want := []string{"1.000s c@1.000s", "2.000s b@2.050s c@2.050s"}; !slices.Equal(got, want) {
		t.Errorf("got frames %q, want %q", got, want)
	}
}

// TestBrowserEgressOnlyDroppedFrame: a frame with no ingress record whose
// every copy was dropped (egress only: a port with no peer) shows its
// drop's number on its row, as Frame.record gives it (the review: a blank
// label; only the first copy's number was looked at).
func TestBrowserEgressOnlyDroppedFrame(t *testing.T) {
	recs := []rec{
		{1, 1e9, false, broadcastFrame("a", 1), ""},
		{2, 1e9, false, broadcastFrame("a", 1), ""},
		{2, 2e9, false, udpFrame("a", "c", 9, 2, 0), "dropped: port-down (no VM attached to the port)"},
	}
	opts := Options{Capture: egressFile(t, recs)}
	m := build(t, opts)
	if len(m.Frames) != 2 || m.Frames[1].record() != 3 || len(m.Frames[1].Deliveries) != 0 {
		t.Fatalf("got %s, want a's broadcast, then a frame of one drop, record 3", describe(m))
	}
	b := newBrowser(t, 1200, 800)
	b.open(t, writePage(t, opts))
	got := eval[string](t, b, `(() => { const n = document.querySelector('#svg g[data-k="f"][data-i="1"] text.num'); return n ? n.textContent : '(no row)'; })()`)
	if got != "3" {
		t.Errorf("got the dropped frame's row numbered %q, want %q", got, "3")
	}
	if said := b.said(); len(said) > 0 {
		t.Errorf("the page said %q, want nothing", said)
	}
}
