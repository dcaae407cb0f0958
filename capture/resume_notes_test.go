package capture

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
)

// fullDiskRun drives a capture through a full disk on a virtual clock:
// 10 frames written, then, with the disk full, an edit and 10 frames (lost
// with the batch that fails), another edit and 5 frames (lost as the file
// has failed), then room again and the retry that resumes the capture.
// after runs once it has resumed, before Close.
func fullDiskRun(t *testing.T, after func(s *Sink, send func(n int))) *disk {
	return diskRun(t, diskScript{during: twoEditsWhileFull(t), after: after})
}

// twoEditsWhileFull is fullDiskRun's time with the disk full.
func twoEditsWhileFull(t *testing.T) func(s *Sink, send func(int), flush func()) {
	return func(s *Sink, send func(int), flush func()) {
		s.Annotate("control at 0.01s: link b down\nl2hub-edit {\"op\":\"link-down\",\"port\":\"b\"}")
		send(10)
		flush()
		s.Annotate("control at 0.02s: link b up\nl2hub-edit {\"op\":\"link-up\",\"port\":\"b\"}")
		send(5)
		flush()
		if st := s.Stats(); st.Written != 10 || st.WriteError != 15 {
			t.Fatalf("with the disk full: %+v, want 10 written, 15 write errors", st)
		}
	}
}

// A diskScript is what diskRun does around a full disk.
type diskScript struct {
	notes  []hub.Note                                    // the notes every frame carries, as a rule's
	during func(s *Sink, send func(n int), flush func()) // with the disk full
	after  func(s *Sink, send func(n int))               // once the capture resumed, before Close
}

// diskRun drives a capture on a virtual clock: 10 frames written, then
// the disk full for script.during and one more flush, then room again and
// the retry that resumes the capture in run-0001.pcapng, script.after and
// Close. Frame k is stamped k ms after t0.
func diskRun(t *testing.T, script diskScript) *disk {
	d := newDisk()
	synctest.Test(t, func(t *testing.T) {
		clock := hub.NewVirtualClock(t0)
		driver := &hub.Driver{Clock: clock}
		cfg := memConfig(nil)
		cfg.Create, cfg.Remove = d.Create, d.Remove
		cfg.FlushInterval, cfg.RetryInterval, cfg.Clock = 50*time.Millisecond, time.Second, clock
		s := mustOpen(t, cfg)
		synctest.Wait()
		s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
		k := 0
		send := func(n int) {
			for range n {
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(100, 1, 2, k), Notes: script.notes}
				s.Observe(&ev)
				k++
			}
		}
		var now time.Duration
		flush := func() { // one tick of the flush timer
			now += 50 * time.Millisecond
			driver.AdvanceTo(t0.Add(now), synctest.Wait)
			synctest.Wait()
		}
		send(10)
		flush()
		d.full.Store(true)
		script.during(s, send, flush)
		flush()
		d.full.Store(false)
		for s.Stats().Files < 2 && now < 5*time.Second {
			flush()
		}
		if st := s.Stats(); st.Files != 2 {
			t.Fatalf("the capture did not resume: %+v", st)
		}
		if script.after != nil {
			script.after(s, send)
		}
		s.Close()
	})
	return d
}

// wantGap checks a comment (a record's or a trailer) for the gap the full
// disk made and the edits made meanwhile.
func wantGap(t *testing.T, what, c string) {
	t.Helper()
	if n := Gaps(c); n != 15 {
		t.Errorf("%s: Gaps = %d, want the 15 frames lost with the disk full:\n%s", what, n, c)
	}
	for _, want := range []string{
		"capture: 15 events missing ",
		"from 10ms to 24ms", // the lost frames' times, since the hub's start
		"no space left on device",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("%s: no %q in\n%s", what, want, c)
		}
	}
	down := strings.Index(c, `l2hub-edit {"op":"link-down","port":"b"}`)
	up := strings.Index(c, `l2hub-edit {"op":"link-up","port":"b"}`)
	if down < 0 || up < down {
		t.Errorf("%s: want both edits made while the disk was full, in order:\n%s", what, c)
	}
}

// TestResumeCarriesWhatTheFailureLost: the annotations made while a file
// has failed (policy edits, VM changes) are not lost with the frames that
// would have carried them; the first frame written after the capture
// resumes carries them, after a gap line that says how many frames are
// missing, from when to when, and why (which Gaps counts, so replay and
// report warn).
func TestResumeCarriesWhatTheFailureLost(t *testing.T) {
	d := fullDiskRun(t, func(s *Sink, send func(int)) { send(10) })
	pk, _ := readAll(t, d.file(t, RotatedPath(memConfig(nil).Path, 1)))
	if len(pk) != 10 {
		t.Fatalf("the resumed file has %d frames, want 10", len(pk))
	}
	wantGap(t, "the first frame after the resume", pk[0].Comment)
	for _, p := range pk[1:] {
		if p.Comment != "" {
			t.Errorf("frame %d: comment %q, want none: the gap is said once", p.Number, p.Comment)
		}
	}
	old, r := readAll(t, d.file(t, memConfig(nil).Path))
	all := r.Trailer()
	for _, p := range old {
		all += p.Comment
	}
	if strings.Contains(all, "l2hub-edit") || Gaps(all) != 0 {
		t.Errorf("the failed file says %q, want nothing of the lost stretch", all)
	}
}

// TestResumeWithNoFrameAfter: a capture that resumes and closes with no
// frame after says what it lost in the trailer of the resumed file.
func TestResumeWithNoFrameAfter(t *testing.T) {
	d := fullDiskRun(t, func(*Sink, func(int)) {})
	pk, r := readAll(t, d.file(t, RotatedPath(memConfig(nil).Path, 1)))
	if len(pk) != 0 {
		t.Fatalf("the resumed file has %d frames, want none", len(pk))
	}
	wantGap(t, "the resumed file's trailer", r.Trailer())
	if !strings.HasPrefix(r.Trailer(), GapPrefix) {
		t.Errorf("the trailer starts %.20q, want the gap line first", r.Trailer())
	}
}

// TestResumeGapBesideAFullTrailer: the gap a resumed file has no frame to
// carry goes in a trailer comment of its own, so that annotations after
// the last frame that fill a comment are not cut for it.
func TestResumeGapBesideAFullTrailer(t *testing.T) {
	const lines = 200
	line := func(i int) string { return fmt.Sprintf("control at %03ds: %s", i, strings.Repeat("x", 80)) }
	d := fullDiskRun(t, func(s *Sink, _ func(int)) {
		for i := range lines {
			s.Annotate(line(i))
		}
	})
	pk, r := readAll(t, d.file(t, RotatedPath(memConfig(nil).Path, 1)))
	if len(pk) != 0 {
		t.Fatalf("the resumed file has %d frames, want none", len(pk))
	}
	tr := r.Trailer()
	wantGap(t, "the resumed file's trailer", tr)
	kept := 0
	for i := range lines {
		if strings.Contains(tr, line(i)+"\n") || strings.HasSuffix(tr, line(i)) {
			kept++
		}
	}
	if left := LinesLeftOut(tr); kept == 0 || kept+int(left) != lines || strings.Contains(tr, "...") {
		t.Errorf("the trailer keeps %d whole annotation lines and says %d are left out, want %d in all, none cut", kept, left, lines)
	}
}

// TestResumeCountsTheLinesOfNotedFrames: frames a rule touched carry
// their own notes before their annotations. What the capture carries of
// the annotations such frames lost while the disk was full has no blank
// lines, and past the bound of a comment it keeps the oldest lines and
// counts exactly the rest as left out: one count per annotation line.
func TestResumeCountsTheLinesOfNotedFrames(t *testing.T) {
	line := func(i int) string { return fmt.Sprintf("control at %03ds: %s", i, strings.Repeat("y", 80)) }
	for _, lines := range []int{3, 400} {
		t.Run(fmt.Sprintf("%d-lines", lines), func(t *testing.T) {
			d := diskRun(t, diskScript{
				notes: []hub.Note{{Link: "a->b", Rule: "slow", Action: "delay", Detail: "1ms"}},
				during: func(s *Sink, send func(int), flush func()) {
					for i := range lines {
						s.Annotate(line(i))
						send(1)
						if i == lines/2 {
							flush() // the first half lost with the batch, the rest as the file has failed
						}
					}
				},
				after: func(_ *Sink, send func(int)) { send(1) },
			})
			pk, _ := readAll(t, d.file(t, RotatedPath(memConfig(nil).Path, 1)))
			if len(pk) != 1 {
				t.Fatalf("the resumed file has %d frames, want 1", len(pk))
			}
			c := pk[0].Comment
			if strings.Contains(c, "\n\n") || strings.HasSuffix(c, "\n") {
				t.Errorf("the carried comment has a blank line:\n%q", c)
			}
			if !strings.HasPrefix(c, "a->b: rule slow: delay") {
				t.Errorf("the carried comment starts %.40q, want the frame's own note", c)
			}
			if n := Gaps(c); n != uint64(lines) {
				t.Errorf("got Gaps = %d, want %d", n, lines)
			}
			has := func(i int) bool { return strings.Contains(c+"\n", line(i)+"\n") }
			kept := 0
			for kept < lines && has(kept) {
				kept++ // the oldest first
			}
			for i := kept; i < lines; i++ {
				if has(i) {
					t.Errorf("line %d kept after line %d was left out", i, kept)
					break
				}
			}
			if left := LinesLeftOut(c); kept == 0 || uint64(kept)+left != uint64(lines) {
				t.Errorf("got %d lines kept and LinesLeftOut = %d, want %d in all", kept, left, lines)
			}
		})
	}
}

// TestResumeBesideAFullComment: the first frame after the resume already
// carries a comment's worth of annotations of its own. The lines the
// stretch carries and the frame's annotations share the comment whole
// lines at a time, oldest first (the edits made while the disk was full
// before the later lines), never cut inside a line, and every line left
// out is counted.
func TestResumeBesideAFullComment(t *testing.T) {
	const lines = 200
	line := func(i int) string { return fmt.Sprintf("control at %03ds: %s", i, strings.Repeat("x", 80)) }
	const own = "a->b: rule slow: delay (1ms)"
	d := diskRun(t, diskScript{
		notes:  []hub.Note{{Link: "a->b", Rule: "slow", Action: "delay", Detail: "1ms"}},
		during: twoEditsWhileFull(t),
		after: func(s *Sink, send func(int)) {
			for i := range lines {
				s.Annotate(line(i))
			}
			send(1)
		},
	})
	pk, _ := readAll(t, d.file(t, RotatedPath(memConfig(nil).Path, 1)))
	if len(pk) != 1 {
		t.Fatalf("the resumed file has %d frames, want 1", len(pk))
	}
	c := pk[0].Comment
	wantGap(t, "the first frame after the resume", c)
	if len(c) > MaxComment {
		t.Errorf("the comment has %d bytes, want at most %d", len(c), MaxComment)
	}
	known := map[string]bool{own: true}
	for i := range lines {
		known[line(i)] = true
	}
	for l := range strings.Lines(c) {
		l = strings.TrimSuffix(l, "\n")
		if !known[l] && !strings.HasPrefix(l, GapPrefix) && !strings.HasPrefix(l, "control at 0.0") && !strings.HasPrefix(l, "l2hub-edit {") {
			t.Errorf("a line that is no whole line of its own: %q", l)
		}
	}
	has := func(i int) bool { return strings.Contains(c+"\n", line(i)+"\n") }
	kept := 0
	for kept < lines && has(kept) {
		kept++
	}
	for i := kept; i < lines; i++ {
		if has(i) {
			t.Errorf("line %d kept after line %d was left out", i, kept)
			break
		}
	}
	if left := LinesLeftOut(c); kept == 0 || uint64(kept)+left != lines {
		t.Errorf("got %d of the %d lines kept and LinesLeftOut = %d, want them all kept or counted", kept, lines, left)
	}
}

// TestCarryKeepsWholeLines: the comment of the record that carries a lost
// stretch holds whole lines only, at most MaxComment bytes, with every
// annotation line kept or counted, whatever the record's own notes and
// annotations already take. Own notes that alone nearly fill a comment
// are what gives way.
func TestCarryKeepsWholeLines(t *testing.T) {
	edits := []string{"control at 1s: link b down", `l2hub-edit {"op":"link-down","port":"b"}`}
	line := func(i int) string { return fmt.Sprintf("control at %03ds: %s", i, strings.Repeat("x", 80)) }
	var lines []string
	for i := range 180 {
		lines = append(lines, line(i))
	}
	for _, tc := range []struct {
		name, own string
		tail      []string // the record's annotation lines
		said      uint64   // the lines its comment says it left out
	}{
		{"no-own-notes", "", lines, 0},
		{"full-tail", "a->b: rule slow: delay (1ms)", lines[:160], 20},
		{"long-line-then-short", "", append(slices.Clone(lines[:150]), strings.Repeat("L", 2000), "control at 200s: short"), 0},
		{"full-own-notes", strings.Repeat("n", MaxComment-10), lines[:1], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := memConfig(nil)
			o := &output{w: newWriter(&cfg, &counters{})}
			o.gap = lostStretch{n: 15, from: uint64(t0.UnixNano()), to: uint64(t0.UnixNano()) + 1e6}
			o.gap.failed("/mem/run.pcapng", syscall.ENOSPC, true)
			o.gap.keep([]byte(strings.Join(edits, "\n")))
			comment := []byte(tc.own)
			for _, l := range append(slices.Clone(tc.tail), string(appendLost(nil, tc.said))) {
				if len(comment) > 0 && l != "" {
					comment = append(comment, '\n')
				}
				comment = append(comment, l...)
			}
			c := string(o.carry(nil, &packetRec{comment: comment, own: len(tc.own)}))
			if len(c) > MaxComment {
				t.Errorf("got a comment of %d bytes, want at most %d", len(c), MaxComment)
			}
			if n := Gaps(c); n != 15 {
				t.Errorf("got Gaps = %d, want 15", n)
			}
			all := append(slices.Clone(edits), tc.tail...) // oldest first
			var kept []string
			for l := range strings.Lines(c) {
				l = strings.TrimSuffix(l, "\n")
				switch {
				case slices.Contains(all, l):
					kept = append(kept, l)
				case l == tc.own, strings.HasPrefix(l, GapPrefix):
				case strings.HasPrefix(tc.own, strings.TrimSuffix(l, "...")): // the own notes, cut
				default:
					t.Errorf("a line that is no whole line: %.100q", l)
				}
			}
			if !slices.Equal(kept, all[:len(kept)]) {
				t.Errorf("the %d annotation lines kept are not the oldest", len(kept))
			}
			if left := LinesLeftOut(c); uint64(len(kept))+left != uint64(len(all))+tc.said {
				t.Errorf("got %d annotation lines kept and %d left out, want %d in all", len(kept), left, uint64(len(all))+tc.said)
			}
		})
	}
}

// A lost stretch keeps annotation lines while they fit its bound, the
// newline between two counted, and counts the rest from the first that
// does not fit.
func TestStretchNotesKeepWithinTheirBound(t *testing.T) {
	for _, tc := range []struct {
		name, tail, notes string
		left              uint64
	}{
		{"first-line-at-the-bound", "aaaaaaaaaa", "aaaaaaaaaa", 0},
		{"first-line-one-over", "aaaaaaaaaaa\nbb", "", 2},
		{"two-lines-at-the-bound", "aaaa\nbbbbb", "aaaa\nbbbbb", 0},
		{"two-lines-one-over", "aaaa\nbbbbbb\nc", "aaaa", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g lostStretch
			g.keepWithin([]byte(tc.tail), 10)
			if string(g.notes) != tc.notes || g.left != tc.left {
				t.Errorf("got notes %q, %d left out; want %q, %d", g.notes, g.left, tc.notes, tc.left)
			}
		})
	}
}
