package capture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// An annotation lands, on a line of its own, in the comment of the next
// packet record only: after a dropped frame's notes (which keep their
// "dropped" prefix), or alone on a frame no rule touched.
func TestAnnotate(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	f := frame(60, 1, 2, 1)
	drop := hub.Note{Link: "a->b", Rule: "split", Action: "partition"}
	run(s, []step{addPort(0, "a", ""), addPort(1, "b", "")})
	s.Annotate("control: partition split a|b started at 1s")
	run(s, []step{event(0, 0, "a", hub.Ingress, f, true, drop), event(1, 0, "a", hub.Ingress, f, true, drop)})
	s.Annotate("control: partition split healed at 4s")
	s.Annotate("control: link b down at 4s")
	run(s, []step{event(2, 1, "b", hub.Ingress, f, false), event(3, 1, "b", hub.Ingress, f, false)})
	mustClose(t, s)

	got, _ := readAll(t, fs.file(t, cfg.Path))
	want := []string{
		"dropped: a->b: rule split: partition\ncontrol: partition split a|b started at 1s",
		"dropped: a->b: rule split: partition",
		"control: partition split healed at 4s\ncontrol: link b down at 4s",
		"",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.Comment != want[i] {
			t.Errorf("got packet %d comment %q, want %q", i+1, p.Comment, want[i])
		}
	}
}

// Annotations are bounded: however many and however long, what waits for
// a frame stays within maxNotes; what does not fit is left out whole lines
// at a time (a line cut inside, an edit's record, could not be read back)
// and the comment says how many (LinesLeftOut), after the frame and in the
// trailer alike. A line longer than one pcapng option is kept whole.
func TestAnnotateBounded(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	line := strings.Repeat("x", 1000)
	long := strings.Repeat("w", 3*maxOption) // kept: it fits maxNotes
	s.Annotate(long)
	for range 600 { // 600 KB: some do not fit
		s.Annotate(line)
	}
	s.Annotate("y") // would fit, but follows lines left out
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	for range 600 {
		s.Annotate(line) // after the last frame: the trailer
	}
	mustClose(t, s)
	got, r := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 {
		t.Fatalf("got %d packets, want 1", len(got))
	}
	for _, c := range []string{got[0].Comment, r.Trailer()} {
		if len(c) > maxNotes+maxLostLine+1 {
			t.Errorf("a comment of %d bytes, more than %d", len(c), maxNotes+maxLostLine+1)
		}
		for l := range strings.Lines(c) {
			if l = strings.TrimSuffix(l, "\n"); l != line && l != long && LinesLeftOut(l) == 0 {
				t.Errorf("a line %.40q... of %d bytes: want whole annotation lines and the count of those left out", l, len(l))
			}
		}
	}
	if !strings.HasPrefix(got[0].Comment, long+"\n"+line+"\n") {
		t.Errorf("the frame's comment starts %.60q..., want the long line whole, then the others", got[0].Comment)
	}
	kept := strings.Count(got[0].Comment, line)
	if lost := LinesLeftOut(got[0].Comment); kept+int(lost) != 601 || lost == 0 {
		t.Errorf("the frame's comment keeps %d lines and says %d were left out; want 601 in all, some left out", kept, lost)
	}
	if kept, lost := strings.Count(r.Trailer(), line), LinesLeftOut(r.Trailer()); kept+int(lost) != 600 || lost == 0 || kept < 500 {
		t.Errorf("the trailer keeps %d lines and says %d were left out; want 600 in all, over 500 kept, some left out", kept, lost)
	}
}

// A burst of edits with no frame between (200 rule adds on an idle hub,
// or one rule of 17 KB) rides whole on the next frame: the 16 KiB a
// comment held before are no bound on annotations.
func TestAnnotateBurst(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	var want []string
	for i := range 200 {
		want = append(want, fmt.Sprintf("control at 1s: rule r%d added: match all: loss 5%%\nl2hub-edit {\"op\":\"rule-add\",\"name\":\"r%d\",\"rule\":\"%s\"}", i, i, strings.Repeat("m", 100)))
	}
	want = append(want, "control at 1s: rule big added\nl2hub-edit "+strings.Repeat("b", 17000))
	for _, a := range want {
		s.Annotate(a)
	}
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 || got[0].Comment != strings.Join(want, "\n") {
		t.Fatalf("got %d packets, the first's comment %d bytes (%d lines left out), want 1 with all %d annotations (%d bytes)",
			len(got), len(got[0].Comment), LinesLeftOut(got[0].Comment), len(want), len(strings.Join(want, "\n")))
	}
}

// Annotations that no frame follows are not lost: Close writes them into
// the statistics block that ends each file, and Reader.Trailer gives them
// back; the frames' comments are what they were, and Wireshark's tools
// read the file without a complaint.
func TestAnnotateAfterTheLastFrame(t *testing.T) {
	const (
		heal = "control at 2.5s: partition split healed"
		down = "control at 2.5s: link b down\nl2hub-edit {\"op\":\"link-down\",\"name\":\"b\"}"
	)
	f := frame(60, 1, 2, 1)
	annotated := func(s *Sink) {
		run(s, []step{addPort(0, "a", ""), addPort(1, "b", "")})
		s.Annotate("control at 1s: rule r added")
		run(s, []step{event(0, 0, "a", hub.Ingress, f, false), event(time.Second, 1, "b", hub.Ingress, f, false)})
		s.Annotate(heal)
		s.Annotate(down)
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"one file", func(*Config) {}},
		{"rotated at 900 bytes", func(c *Config) { c.RotateBytes = 900 }},
		{"per port", func(c *Config) { c.PerPort = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Path: tempPath(t, "run.pcapng")}
			tc.cfg(&cfg)
			s := mustOpen(t, cfg)
			annotated(s)
			mustClose(t, s)
			files := s.Files()
			var comments []string
			for i, path := range files {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.RotateBytes > 0 && int64(len(b)) > cfg.RotateBytes {
					t.Errorf("%s: %d bytes, more than %d", path, len(b), cfg.RotateBytes)
				}
				got, r := readAll(t, b)
				for _, p := range got {
					comments = append(comments, p.Comment)
				}
				last := i == len(files)-1 || cfg.PerPort
				if want := heal + "\n" + down; last && r.Trailer() != want {
					t.Errorf("%s: Trailer() = %q, want %q", path, r.Trailer(), want)
				} else if !last && r.Trailer() != "" {
					t.Errorf("%s, not the last file: Trailer() = %q, want none", path, r.Trailer())
				}
				if tshark, err := exec.LookPath("tshark"); err == nil {
					runTshark(t, tshark, "-r", path)
				}
			}
			if want := []string{"control at 1s: rule r added", ""}; !slices.Equal(comments, want) {
				t.Errorf("the frames' comments: got %q, want %q", comments, want)
			}
		})
	}
	t.Run("classic pcap", func(t *testing.T) {
		cfg := Config{Path: tempPath(t, "run.pcap"), Format: FormatPcap}
		s := mustOpen(t, cfg)
		annotated(s)
		mustClose(t, s)
		b, err := os.ReadFile(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		if got, r := readAll(t, b); len(got) != 2 || r.Trailer() != "" {
			t.Errorf("got %d packets and trailer %q, want 2 and none (pcap has no place for it)", len(got), r.Trailer())
		}
	})
}

// What Annotate keeps of a comment is a prefix of what it was given: once
// a line is left out for want of room, a shorter one after it is left out
// too, so no later edit is read back without an earlier one.
func TestAnnotateKeepsAPrefix(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	long := strings.Repeat("x", 1000)
	n := maxNotes/1001 - 1
	for range n {
		s.Annotate(long)
	}
	s.Annotate(strings.Repeat("y", 2000))  // does not fit
	s.Annotate("control at 2s: link b up") // would fit, but follows one left out
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 {
		t.Fatalf("got %d packets, want 1", len(got))
	}
	c := got[0].Comment
	if strings.Contains(c, "link b up") {
		t.Errorf("the comment keeps a line given after one it left out:\n%.200q", c)
	}
	if kept, lost := strings.Count(c, long), LinesLeftOut(c); kept != n || lost != 2 {
		t.Errorf("the comment keeps %d lines and says %d were left out; want %d kept and 2 left out", kept, lost, n)
	}
}

// Wireshark's tools that rewrite a capture (editcap, mergecap, tshark -w,
// and so Wireshark's Save As) keep the annotations a frame carries, in
// order, however many comments its block needs for them: a burst of edits
// before the first frame, one in mid-file, and a line longer than one
// option come back as they were written.
func TestAnnotationsSurviveWiresharkRewriters(t *testing.T) {
	path := tempPath(t, "run.pcapng")
	s := mustOpen(t, Config{Path: path})
	run(s, []step{addPort(0, "a", ""), addPort(1, "b", "")})
	burst := func(tag string) {
		for i := range 200 {
			s.Annotate(fmt.Sprintf("control at 1s: rule %s%d added\nl2hub-edit {\"op\":\"rule-add\",\"name\":\"%s%d\",\"rule\":\"%s\"}", tag, i, tag, i, strings.Repeat("m", 200)))
		}
	}
	burst("setup")
	for i := range 3 {
		run(s, []step{event(time.Duration(i)*time.Millisecond, hub.PortID(i%2), "a", hub.Ingress, frame(60, 1, 2, i), false)})
	}
	burst("mid")
	s.Annotate("control at 2s: rule huge added\nl2hub-edit " + strings.Repeat("é", maxOption)) // 128 KiB on one line
	for i := 3; i < 6; i++ {
		run(s, []step{event(time.Duration(i)*time.Millisecond, hub.PortID(i%2), "b", hub.Egress, frame(60, 2, 1, i), i == 4,
			hub.Note{Link: "b->a", Rule: "r", Action: "loss"})})
	}
	mustClose(t, s)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readAll(t, b)
	if n := strings.Count(want[0].Comment, "l2hub-edit") + strings.Count(want[3].Comment, "l2hub-edit"); n != 401 {
		t.Fatalf("the capture itself carries %d edits, want 401", n)
	}
	dir := t.TempDir()
	for _, tool := range []struct {
		name string
		args []string
	}{
		{"editcap", []string{path, filepath.Join(dir, "editcap.pcapng")}},
		{"mergecap", []string{"-w", filepath.Join(dir, "mergecap.pcapng"), path}},
		{"tshark", []string{"-r", path, "-w", filepath.Join(dir, "tshark.pcapng")}},
	} {
		t.Run(tool.name, func(t *testing.T) {
			bin, err := exec.LookPath(tool.name)
			if err != nil {
				t.Skipf("%s is not installed: %v", tool.name, err)
			}
			if out, err := exec.Command(bin, tool.args...).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", tool.name, strings.Join(tool.args, " "), err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, tool.name+".pcapng"))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readAll(t, b)
			if len(got) != len(want) {
				t.Fatalf("got %d packets, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Comment != want[i].Comment {
					t.Errorf("packet %d: a comment of %d bytes (%d edits), want %d bytes (%d edits)", i+1,
						len(got[i].Comment), strings.Count(got[i].Comment, "l2hub-edit"), len(want[i].Comment), strings.Count(want[i].Comment, "l2hub-edit"))
				}
			}
		})
	}
}
