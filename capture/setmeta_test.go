package capture

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// TestSetMetaStartsANewFile: SetMeta between events ends every file
// sequence's current file and starts the next numbered one, whose section
// header carries the new Meta and every interface it needs; the frames
// before are in the old file, the frames after in the new, and rotation by
// size keeps numbering from there.
func TestSetMetaStartsANewFile(t *testing.T) {
	newMeta := testMeta
	newMeta.Seed, newMeta.PolicyHash = 7, "sha256:f00d"
	newMeta.Extra = map[string]string{"policy-name": "new.yaml", "policy-since": "1.5s"}
	const a, b = 0, 1
	ev := func(at time.Duration, port hub.PortID, seq int) step {
		name := []string{"a", "b"}[port]
		return event(at, port, name, hub.Ingress, frame(60, byte(port+1), 0xff, seq), false)
	}
	before := []step{addPort(a, "a", "tcp a"), addPort(b, "b", "tcp b"), ev(0, a, 1), ev(time.Millisecond, b, 2)}
	after := []step{ev(2*time.Second, a, 3), ev(3*time.Second, b, 4), ev(4*time.Second, a, 5)}

	// wantFile is a file's seed, part and the frames in it.
	type wantFile struct {
		seed           uint64
		part, metaPart int
		seqs           string
	}
	for _, tc := range []struct {
		name    string
		perPort bool
		packets int64
		format  Format
		want    map[string]wantFile // by file name
	}{
		{"segment", false, 0, FormatPcapng, map[string]wantFile{
			"run.pcapng":      {42, 0, 0, "1 2"},
			"run-0001.pcapng": {7, 1, 1, "3 4 5"},
		}},
		{"segment-rotating", false, 2, FormatPcapng, map[string]wantFile{
			"run.pcapng":      {42, 0, 0, "1 2"},
			"run-0001.pcapng": {7, 1, 1, "3 4"},
			"run-0002.pcapng": {7, 2, 1, "5"},
		}},
		{"pcap", false, 0, FormatPcap, map[string]wantFile{
			"run.pcapng":      {0, 0, 0, "1 2"},
			"run-0001.pcapng": {0, 0, 0, "3 4 5"},
		}},
		{"per-port", true, 0, FormatPcapng, map[string]wantFile{
			"run-a.pcapng":      {42, 0, 0, "1"},
			"run-b.pcapng":      {42, 0, 0, "2"},
			"run-a-0001.pcapng": {7, 1, 1, "3 5"},
			"run-b-0001.pcapng": {7, 1, 1, "4"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.PerPort, cfg.RotatePackets, cfg.Format = tc.perPort, tc.packets, tc.format
			cfg.Path = filepath.Join(t.TempDir(), "run.pcapng") // per-port files need the directory
			s := mustOpen(t, cfg)
			run(s, before)
			done, err := s.SetMeta(newMeta)
			if err != nil {
				t.Fatal(err)
			}
			run(s, after)
			select {
			case <-done:
			case <-time.After(hangGuard):
				t.Fatalf("SetMeta's new files were not opened within %v", hangGuard)
			}
			mustClose(t, s)

			if got := len(s.Files()); got != len(tc.want) {
				t.Errorf("got files %v, want %d", s.Files(), len(tc.want))
			}
			for name, w := range tc.want {
				path := filepath.Join(filepath.Dir(cfg.Path), name)
				got, r := readAll(t, fs.file(t, path))
				var seqs []string
				for _, p := range got {
					seqs = append(seqs, fmt.Sprint(int(p.Data[14])-14))
				}
				if s := strings.Join(seqs, " "); s != w.seqs {
					t.Errorf("%s: got frames %q, want %q", path, s, w.seqs)
				}
				if tc.format != FormatPcapng {
					continue // no section header
				}
				fm, err := ParseMeta(r.Section().Comment)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if fm.Seed != w.seed || fm.Part != w.part || fm.MetaPart != w.metaPart {
					t.Errorf("%s: got seed %d part %d meta-part %d, want seed %d part %d meta-part %d", path, fm.Seed, fm.Part, fm.MetaPart, w.seed, w.part, w.metaPart)
				}
				if w.seed == 7 && (fm.PolicyHash != "sha256:f00d" || fm.Extra["policy-name"] != "new.yaml" || !fm.Start.Equal(t0)) {
					t.Errorf("%s: got meta %+v, want the new policy's", path, fm)
				}
				if !tc.perPort && len(r.Interfaces()) != 2 {
					t.Errorf("%s: got interfaces %+v, want a and b", path, r.Interfaces())
				}
			}
		})
	}
}

func TestSetMetaRefused(t *testing.T) {
	s := mustOpen(t, memConfig(newMemFS()))
	bad := testMeta
	bad.Version = "v1\nseed=3"
	if _, err := s.SetMeta(bad); err == nil || !strings.Contains(err.Error(), "spans lines") {
		t.Errorf("got SetMeta(multi-line version) = %v, want an error saying it spans lines", err)
	}
	mustClose(t, s)
	if _, err := s.SetMeta(testMeta); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("got SetMeta after Close = %v, want an error saying the capture is closed", err)
	}
	if n := len(s.Files()); n != 1 {
		t.Errorf("got files %v, want only the first", s.Files())
	}
}

// TestSetMetaEndsTheOldFilesWithTheirAnnotations: annotations no frame
// carried before SetMeta (an edit of the policy being replaced) belong to
// the old Meta: they end the old files as their trailer, and the new
// files' first frame does not carry them, so a replay of the new file with
// its own policy does not make them again.
func TestSetMetaEndsTheOldFilesWithTheirAnnotations(t *testing.T) {
	const edit = "control at 1.4s: link b down"
	newMeta := testMeta
	newMeta.Seed = 7
	for _, tc := range []struct {
		name    string
		perPort bool
		bytes   int64
	}{
		{"segment", false, 0},
		{"per-port", true, 0},
		{"rotating at 900 bytes", false, 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.PerPort, cfg.RotateBytes = tc.perPort, tc.bytes
			cfg.Path = filepath.Join(t.TempDir(), "run.pcapng")
			s := mustOpen(t, cfg)
			run(s, []step{addPort(0, "a", "tcp a"), addPort(1, "b", "tcp b"),
				event(0, 0, "a", hub.Ingress, frame(60, 1, 0xff, 1), false),
				event(time.Millisecond, 1, "b", hub.Ingress, frame(60, 2, 0xff, 2), false)})
			s.Annotate(edit)
			done, err := s.SetMeta(newMeta)
			if err != nil {
				t.Fatal(err)
			}
			run(s, []step{event(2*time.Second, 0, "a", hub.Ingress, frame(60, 1, 0xff, 3), false),
				event(3*time.Second, 1, "b", hub.Ingress, frame(60, 2, 0xff, 4), false)})
			<-done
			mustClose(t, s)

			var oldTrailers, newTrailers int
			for _, path := range s.Files() {
				b := fs.file(t, path)
				if tc.bytes > 0 && int64(len(b)) > tc.bytes {
					t.Errorf("%s: %d bytes, more than %d", path, len(b), tc.bytes)
				}
				got, r := readAll(t, b)
				fm, err := ParseMeta(r.Section().Comment)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				for _, p := range got {
					if strings.Contains(p.Comment, edit) {
						t.Errorf("%s (seed %d): frame %d carries the old policy's edit: %q", path, fm.Seed, p.Number, p.Comment)
					}
				}
				switch {
				case r.Trailer() == "":
				case r.Trailer() != edit:
					t.Errorf("%s: Trailer() = %q, want %q", path, r.Trailer(), edit)
				case fm.Seed == 7:
					newTrailers++
				default:
					oldTrailers++
				}
			}
			want := 1
			if tc.perPort {
				want = 2 // each port's file sequence ends with it
			}
			if oldTrailers != want || newTrailers != 0 {
				t.Errorf("files %v: the edit ends %d of the old Meta's files and %d of the new's; want %d and 0", s.Files(), oldTrailers, newTrailers, want)
			}
		})
	}
}

// TestSectionTrailerInAStream: in a stream, the annotations made before a
// SetMeta end its section, and those made before Close end the last:
// SectionTrailer gives each section's alone, in SectionEnd and at the
// end, while Trailer gathers them all.
func TestSectionTrailerInAStream(t *testing.T) {
	var stream bytes.Buffer
	cfg := Config{Path: Stdout, Meta: testMeta, Overflow: OverflowBlock,
		Create: func(string) (io.WriteCloser, error) { return nopWriteCloser{&stream}, nil }}
	s := mustOpen(t, cfg)
	run(s, []step{addPort(0, "a", "tcp a"), event(0, 0, "a", hub.Ingress, frame(60, 1, 0xff, 1), false)})
	s.Annotate("control at 1s: link a down")
	m := testMeta
	m.Seed = 7
	done, err := s.SetMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	run(s, []step{event(2*time.Second, 0, "a", hub.Ingress, frame(60, 1, 0xff, 2), false)})
	s.Annotate("control at 3s: link a up")
	mustClose(t, s)
	<-done

	var ended []string
	var r *Reader
	r, err = NewReader(bytes.NewReader(stream.Bytes()), ReadOptions{SectionEnd: func(int, []Interface) { ended = append(ended, r.SectionTrailer()) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	ended = append(ended, r.SectionTrailer())
	if want := []string{"control at 1s: link a down", "control at 3s: link a up"}; !slices.Equal(ended, want) {
		t.Errorf("got section trailers %q, want %q", ended, want)
	}
	if want := "control at 1s: link a down\ncontrol at 3s: link a up"; r.Trailer() != want {
		t.Errorf("got Trailer() = %q, want %q", r.Trailer(), want)
	}
}

// TestSetMetaInAPcapStream: classic pcap has no sections, so a SetMeta
// leaves a pcap stream as it is; a second file header in it would read as
// a record header, and every reader would stop there.
func TestSetMetaInAPcapStream(t *testing.T) {
	for _, format := range []Format{FormatPcap, FormatPcapNano} {
		t.Run(format.String(), func(t *testing.T) {
			var stream bytes.Buffer
			cfg := Config{Path: Stdout, Format: format, Meta: testMeta, Overflow: OverflowBlock,
				Create: func(string) (io.WriteCloser, error) { return nopWriteCloser{&stream}, nil }}
			s := mustOpen(t, cfg)
			run(s, []step{addPort(0, "a", "tcp a"), event(0, 0, "a", hub.Ingress, frame(60, 1, 0xff, 1), false)})
			m := testMeta
			m.Seed = 7
			done, err := s.SetMeta(m)
			if err != nil {
				t.Fatal(err)
			}
			run(s, []step{event(2*time.Second, 0, "a", hub.Ingress, frame(60, 1, 0xff, 2), false)})
			mustClose(t, s)
			<-done

			got, _ := readAll(t, stream.Bytes()) // fails on a corrupt record
			if len(got) != 2 || !bytes.Equal(got[1].Data, frame(60, 1, 0xff, 2)) {
				t.Errorf("got %d packets in the stream, want both frames, the second after the SetMeta", len(got))
			}
			if n := len(stream.Bytes()); n != 24+2*(16+60) {
				t.Errorf("got a stream of %d bytes, want one file header and two records (%d)", n, 24+2*(16+60))
			}
		})
	}
}
