package capture

import (
	"bytes"
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

// Nothing is left out for want of room: annotations that do not fit the
// next frame's comment (MaxComment) go, whole lines, in blocks of their
// own, and the Reader gives the frame every line, in order, after its own
// notes; those after the last frame join the trailer alike. No comment
// the file holds passes MaxComment.
func TestAnnotateKeepsEveryLine(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	var before, after []string
	for i := range 20 { // 16 fit in a comment; 4 do not
		before = append(before, fmt.Sprintf("%02d %s", i, strings.Repeat("x", 1000)))
	}
	before = append(before, strings.Repeat("y", MaxComment+1000)) // longer than a comment
	before = append(before, strings.Repeat("z", 500), strings.Repeat("z", 499))
	for _, l := range before[:21] {
		s.Annotate(l)
	}
	s.Annotate(before[21] + "\n" + before[22]) // two lines at once
	drop := hub.Note{Link: "a->b", Rule: "split", Action: "partition"}
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), true, drop)})
	for i := range 20 {
		after = append(after, fmt.Sprintf("%02d %s", i, strings.Repeat("w", 1000)))
		s.Annotate(after[i]) // after the last frame: the trailer
	}
	mustClose(t, s)
	b := fs.file(t, cfg.Path)
	got, r := readAll(t, b)
	if len(got) != 1 {
		t.Fatalf("got %d packets, want 1", len(got))
	}
	want := "dropped: a->b: rule split: partition\n" + strings.Join(before, "\n")
	if got[0].Comment != want {
		t.Errorf("got the frame's comment %.80q... (%d bytes), want its notes then every line given before it (%d bytes)", got[0].Comment, len(got[0].Comment), len(want))
	}
	if want := strings.Join(after, "\n"); r.Trailer() != want {
		t.Errorf("got Trailer() %.80q... (%d bytes), want every line given after the frame (%d bytes)", r.Trailer(), len(r.Trailer()), len(want))
	}
	if n := LinesLeftOut(got[0].Comment) + LinesLeftOut(r.Trailer()); n != 0 {
		t.Errorf("LinesLeftOut = %d, want none", n)
	}
	for _, c := range blockComments(t, b) {
		if len(c) > MaxComment {
			t.Errorf("the file holds a comment of %d bytes, more than %d", len(c), MaxComment)
		}
	}
}

// blockComments returns every opt_comment of every block of the pcapng
// file b (little-endian, as a Sink writes it).
func blockComments(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for len(b) >= blockMin {
		typ, n := le.Uint32(b), int(le.Uint32(b[4:]))
		if n < blockMin || n > len(b) {
			t.Fatalf("a block of %d bytes in %d", n, len(b))
		}
		var opts []byte
		switch typ {
		case blockSHB:
			opts = b[8+shbFixed : n-4]
		case blockIDB:
			opts = b[8+idbFixed : n-4]
		case blockISB:
			opts = b[8+12 : n-4]
		case blockEPB:
			capLen := int(le.Uint32(b[8+12:]))
			opts = b[8+epbFixed+capLen+pad4(capLen) : n-4]
		}
		for it := (optIter{b: opts, order: le}); it.next(); {
			if it.code == optComment {
				out = append(out, string(it.val))
			}
		}
		b = b[n:]
	}
	return out
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

// Annotations stay in the order they were given: once some went in a
// block of their own, a short one after them does not take the room left
// in the frame's comment, which a Reader puts before the blocks' lines.
func TestAnnotateKeepsTheOrder(t *testing.T) {
	fs := newMemFS()
	cfg := memConfig(fs)
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "")})
	var lines []string
	for i := range 16 {
		lines = append(lines, fmt.Sprintf("%02d %s", i, strings.Repeat("x", 1000)))
	}
	lines = append(lines, strings.Repeat("y", 2000), "control at 2s: link b up")
	for _, l := range lines {
		s.Annotate(l)
	}
	run(s, []step{event(0, 0, "a", hub.Ingress, frame(60, 1, 2, 1), false)})
	mustClose(t, s)
	got, _ := readAll(t, fs.file(t, cfg.Path))
	if len(got) != 1 {
		t.Fatalf("got %d packets, want 1", len(got))
	}
	if want := strings.Join(lines, "\n"); got[0].Comment != want {
		t.Errorf("got the comment's lines %q, want them in the order given", lineStarts(got[0].Comment))
	}
}

// lineStarts is the start of each line of c, for messages.
func lineStarts(c string) []string {
	var out []string
	for l := range strings.Lines(c) {
		out = append(out, cutRunes(l, 12))
	}
	return out
}

// TestAnnotationBlocks: a burst of annotations with no frame between goes
// in blocks of their own in every layout of a capture. The next frame
// carries them, whole and in order (in a per-port capture, the file of
// that frame's port alone); when its file ends first (SetMeta, a
// rotation), they end it, in its trailer. tshark reads every file and
// numbers its frames as the Reader does (the blocks are no frames), and a
// second run writes the same bytes.
func TestAnnotationBlocks(t *testing.T) {
	var burst []string
	for i := range 200 {
		burst = append(burst, fmt.Sprintf("control at 1.%03ds: rule r%d added: match link a->b: loss 1%%\nl2hub-edit {\"at\":%d,\"op\":\"rule-add\",\"name\":\"r%d\"}", i, i, 1_000_000_000+i*1_000_000, i))
	}
	lines := strings.Join(burst, "\n")
	f := frame(60, 1, 2, 1)
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		meta bool // SetMeta after the burst
		// want is each file's frames' comments and its trailer, the
		// burst written "B".
		want [][]string
	}{
		{"one file", func(*Config) {}, false, [][]string{{"", "B", "", ""}}},
		{"per port", func(c *Config) { c.PerPort = true }, false, [][]string{{"", "", ""}, {"B", ""}}},
		{"rotated at each frame", func(c *Config) { c.RotatePackets = 1 }, false, [][]string{{"", "B"}, {"", ""}, {"", ""}}},
		{"set-meta", func(*Config) {}, true, [][]string{{"", "B"}, {"", "", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs [2][][]byte
			for i := range runs {
				cfg := Config{Path: tempPath(t, "run.pcapng"), Meta: testMeta}
				tc.cfg(&cfg)
				s := mustOpen(t, cfg)
				run(s, []step{addPort(0, "a", ""), addPort(1, "b", ""), event(0, 0, "a", hub.Ingress, f, false)})
				for _, l := range burst {
					s.Annotate(l)
				}
				if tc.meta {
					m := testMeta
					m.PolicyHash = "sha256:feed"
					if _, err := s.SetMeta(m); err != nil {
						t.Fatal(err)
					}
				}
				run(s, []step{event(2*time.Second, 1, "b", hub.Ingress, f, false), event(3*time.Second, 0, "a", hub.Ingress, f, false)})
				mustClose(t, s)
				for _, path := range s.Files() {
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					runs[i] = append(runs[i], b)
				}
			}
			if len(runs[0]) != len(tc.want) {
				t.Fatalf("got %d files, want %d", len(runs[0]), len(tc.want))
			}
			for i, b := range runs[0] {
				pk, r := readAll(t, b)
				var got []string
				for _, p := range append(pk, Packet{Comment: r.Trailer()}) {
					c := p.Comment
					if c == lines {
						c = "B"
					}
					got = append(got, cutRunes(c, 40))
				}
				if !slices.Equal(got, tc.want[i]) {
					t.Errorf("file %d: got comments and trailer %q, want %q", i, got, tc.want[i])
				}
				if i < len(runs[1]) && !bytes.Equal(b, runs[1][i]) {
					t.Errorf("file %d differs on a second run", i)
				}
				if tshark, err := exec.LookPath("tshark"); err == nil {
					path := filepath.Join(t.TempDir(), "f.pcapng")
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					out := runTshark(t, tshark, "-r", path, "-T", "fields", "-e", "frame.number")
					if n := strings.Count(out, "\n"); n != len(pk) {
						t.Errorf("file %d: tshark shows %d frames, the Reader %d", i, n, len(pk))
					}
				}
			}
		})
	}
}
