package capture

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"l2hub/hub"
)

// TestNoteGoesOnTheNextFrame: a Note is written as a comment of its own on
// the next frame each file records, after the frame's own comment; the
// frames before have none of it, and a note after the last frame is not
// written. Every reader reads the file: ours, pcapgo's and, where
// installed, tshark.
func TestNoteGoesOnTheNextFrame(t *testing.T) {
	const a, b = 0, 1
	const note1, note2 = "control: rule x added at 1ms: loss 5%", "control: rule y removed at 1ms"
	ev := func(at time.Duration, port hub.PortID, seq int, notes ...hub.Note) step {
		return event(at, port, []string{"a", "b"}[port], hub.Ingress, frame(60, byte(port+1), 0xff, seq), false, notes...)
	}
	drop := hub.Note{Link: "a->b", Rule: "loss-a", Action: "drop", Detail: "p=0.5 draw=0.1"}
	before := []step{addPort(a, "a", "tcp a"), addPort(b, "b", "tcp b"), ev(0, a, 1)}
	after := []step{ev(2*time.Millisecond, b, 2, drop), ev(3*time.Millisecond, a, 3), ev(4*time.Millisecond, b, 4)}

	for _, tc := range []struct {
		name    string
		perPort bool
		packets int64
		format  Format
		want    map[string][]string // file -> each frame's comment
	}{
		{"segment", false, 0, FormatPcapng, map[string][]string{
			"run.pcapng": {"", "a->b: rule loss-a: drop (p=0.5 draw=0.1)\n" + note1 + "\n" + note2, "", ""},
		}},
		{"rotating", false, 1, FormatPcapng, map[string][]string{
			"run.pcapng":      {""},
			"run-0001.pcapng": {"a->b: rule loss-a: drop (p=0.5 draw=0.1)\n" + note1 + "\n" + note2},
			"run-0002.pcapng": {""},
			"run-0003.pcapng": {""},
		}},
		{"per-port", true, 0, FormatPcapng, map[string][]string{
			"run-a.pcapng": {"", note1 + "\n" + note2},
			"run-b.pcapng": {"a->b: rule loss-a: drop (p=0.5 draw=0.1)\n" + note1 + "\n" + note2, ""},
		}},
		{"pcap", false, 0, FormatPcap, map[string][]string{
			"run.pcapng": {"", "", "", ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.PerPort, cfg.RotatePackets, cfg.Format = tc.perPort, tc.packets, tc.format
			cfg.Path = filepath.Join(t.TempDir(), "run.pcapng")
			s := mustOpen(t, cfg)
			run(s, before)
			for _, n := range []string{note1, note2} {
				if err := s.Note(n); err != nil {
					t.Fatal(err)
				}
			}
			run(s, after)
			if err := s.Note("after the last frame"); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			if err := s.Note("after close"); err == nil {
				t.Error("Note after Close succeeded")
			}
			if got := len(s.Files()); got != len(tc.want) {
				t.Fatalf("got files %v, want %d", s.Files(), len(tc.want))
			}
			for name, want := range tc.want {
				data := fs.file(t, filepath.Join(filepath.Dir(cfg.Path), name))
				got, _ := readAll(t, data)
				var comments []string
				for _, p := range got {
					comments = append(comments, p.Comment)
				}
				if fmt.Sprintf("%q", comments) != fmt.Sprintf("%q", want) {
					t.Errorf("%s: got comments %q, want %q", name, comments, want)
				}
				if tc.format != FormatPcapng {
					continue
				}
				r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{})
				if err != nil {
					t.Fatalf("%s: pcapgo: %v", name, err)
				}
				n := 0
				for {
					if _, _, err := r.ReadPacketData(); err == io.EOF {
						break
					} else if err != nil {
						t.Fatalf("%s: pcapgo: after %d packets: %v", name, n, err)
					}
					n++
				}
				if n != len(want) {
					t.Errorf("%s: pcapgo read %d packets, want %d", name, n, len(want))
				}
			}
		})
	}
}

// TestNoteInTshark: Wireshark shows a note as one more comment of its
// frame, numbers the frames as before, and capinfos reads the file.
func TestNoteInTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install the Debian package tshark to run this test")
	}
	path := tempPath(t, "run.pcapng")
	s := mustOpen(t, Config{Path: path, Meta: testMeta})
	run(s, []step{addPort(0, "a", "tcp a"), event(0, 0, "a", hub.Ingress, frame(60, 1, 0xff, 1), false)})
	s.Note("control: rule x added at 1ms: loss 5%")
	run(s, []step{event(time.Millisecond, 0, "a", hub.Ingress, frame(60, 1, 0xff, 2), false,
		hub.Note{Rule: "y", Action: "delay", Detail: "1ms"})})
	mustClose(t, s)
	out := runTshark(t, tshark, "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "frame.comment")
	want := "1|\n2|rule y: delay (1ms),control: rule x added at 1ms: loss 5%\n"
	if out != want {
		t.Errorf("tshark shows\n%s\nwant\n%s", out, want)
	}
	if capinfos, err := exec.LookPath("capinfos"); err == nil {
		if out := runTshark(t, capinfos, "-c", path); !strings.Contains(out, "Number of packets:   2") {
			t.Errorf("capinfos:\n%s", out)
		}
	}
}
