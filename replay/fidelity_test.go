package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// cutPolicy decides on frame length: an mtu on a->b, a length match on
// b->a.
const cutPolicy = "seed: 1\nrules:\n" +
	"  - {name: small, match: {link: a->b}, mtu: 300}\n" +
	"  - {name: big, match: {link: b->a, length: 400-}, loss: 100%}\n"

// A capture cut short by a snaplen (serve --snaplen, tcpdump -s) is
// replayed at the frames' length on the wire, as its records give it, so
// that mtu and length matches decide as the live hub did; the replay
// counts the cut frames, warns, and its output records no more of each
// frame than its input did.
func TestReplayCutFramesKeepTheirLength(t *testing.T) {
	ports := []string{"a", "b"}
	srcA, srcB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")
	frame := func(src [6]byte) []byte {
		return hubtest.Frame(hubtest.Broadcast, src, strings.Repeat("x", 428))
	}
	const n = 3
	l2hubCut := func(t *testing.T, dir string) []string {
		path := filepath.Join(dir, "run.pcapng")
		pol := mustPolicy(t, cutPolicy, ports)
		sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Snaplen: 64,
			Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash()}})
		if err != nil {
			t.Fatal(err)
		}
		sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
		for i := range n {
			sim.SendAt(time.Duration(i)*time.Millisecond, "a", frame(srcA))
			sim.SendAt(time.Duration(i)*time.Millisecond+time.Microsecond, "b", frame(srcB))
		}
		endRun(t, sim, sink)
		return []string{path}
	}
	pcapCut := func(t *testing.T, dir string) []string {
		var files []string
		for _, p := range []struct {
			name string
			src  [6]byte
		}{{"a", srcA}, {"b", srcB}} {
			var b bytes.Buffer
			w := pcapgo.NewWriter(&b)
			if err := w.WriteFileHeader(64, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				f := frame(p.src)
				ci := gopacket.CaptureInfo{Timestamp: hub.DefaultEpoch.Add(time.Duration(i) * time.Millisecond), CaptureLength: 64, Length: len(f)}
				if err := w.WritePacket(ci, f[:64]); err != nil {
					t.Fatal(err)
				}
			}
			files = append(files, writeFile(t, dir, p.name+".pcap", b.String()))
		}
		return files
	}
	for _, tc := range []struct {
		name  string
		files func(t *testing.T, dir string) []string
	}{
		{"l2hub-snaplen", l2hubCut},
		{"tcpdump-snaplen", pcapCut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := tc.files(t, dir)
			policy := writeFile(t, dir, "p.yaml", cutPolicy)
			out := filepath.Join(dir, "out.pcapng")
			res, err := (&Job{Files: files, Policy: policy, Output: out, Mode: "hub"}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rules.Rules {
				if r.Dropped != n {
					t.Errorf("rule %s dropped %d frames, want %d, as live (the frames were %d bytes on the wire)", r.Rule, r.Dropped, n, len(frame(srcA)))
				}
			}
			cut := 0
			for _, in := range res.Inputs {
				cut += in.Cut
			}
			if cut != 2*n {
				t.Errorf("got %d frames counted cut, want %d", cut, 2*n)
			}
			ws := res.Warnings()
			if !slices.ContainsFunc(ws, func(w Note) bool {
				return w.Kind == NoteCut && w.Input == files[0] && strings.Contains(w.Text, "cut short when captured")
			}) {
				t.Errorf("got warnings %q, want one on %s's cut frames", ws, files[0])
			}
			for _, p := range capturetest.Packets(t, out) {
				if p.OrigLen != len(frame(srcA)) || len(p.Data) != 64 {
					t.Fatalf("the output records %d of %d bytes, want 64 of %d as the input", len(p.Data), p.OrigLen, len(frame(srcA)))
				}
			}
		})
	}
}

// mergecap's merged l2hub captures keep the header's lines but append to
// its first ("l2hub capture  File created by merging: …"): it is still
// read as an l2hub header, and said to be rewritten; text that only
// starts like one is not.
func TestParseHeaderRewritten(t *testing.T) {
	const body = "version=0.1.0\nseed=42\nconfig=c\npolicy=p\nstart=2026-01-02T03:04:05Z\npoints=both\npart=0\nmode=hub"
	for _, tc := range []struct {
		name      string
		comment   string
		ok        bool
		rewritten bool
	}{
		{"as-written", "l2hub capture\n" + body, true, false},
		{"mergecap", "l2hub capture \nFile created by merging: \nFile1: d1.pcapng \nFile2: d2.pcapng \n\n" + body, true, true},
		{"one-line-appended", "l2hub capture edited by hand\n" + body, true, true},
		{"not-ours", "Dumpcap 4.2 on eth0", false, false},
		{"starts-alike-without-a-header", "l2hub capture of my home network\nnotes: none", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parseHeader(tc.comment)
			if ok != tc.ok || h.rewritten != tc.rewritten {
				t.Fatalf("got ok=%v rewritten=%v, want %v %v", ok, h.rewritten, tc.ok, tc.rewritten)
			}
			if ok && (h.meta.Seed != 42 || h.meta.Extra["mode"] != "hub" || h.meta.Points != capture.PointsBoth) {
				t.Errorf("got meta %+v, want the header's", h.meta)
			}
		})
	}
}

// A capture whose header mergecap rewrote replays as an l2hub capture (a
// port per interface, ingress only: the egress copies are not replayed as
// frames), with a warning saying so. Merged from several files, it keeps
// the first one's header only (the others', a set-policy's among them,
// are lost): a what-if, which what_if says too.
func TestReplayMergedCapture(t *testing.T) {
	data := describedCapture(t, capture.Meta{Seed: 9}, func(sim *hubtest.Sim, _ *capture.Sink) {
		sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
	})
	for _, tc := range []struct {
		name   string
		files  string
		whatIf bool
	}{
		{"two-files", "File1: d1.pcapng \nFile2: d2.pcapng \n", true},
		{"one-file", "File1: d1.pcapng \n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			merged := rewriteFirstComment(t, data, "l2hub capture \nFile created by merging: \n"+tc.files)
			path := writeFile(t, t.TempDir(), "merged.pcapng", string(merged))
			var notes []string
			res, err := (&Job{Files: []string{path}, Notes: func(n string) { notes = append(notes, n) }}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Replayed != 1 || res.Egress != 1 {
				t.Errorf("replayed %d frames, %d egress copies; want 1 and 1, as an l2hub capture", res.Replayed, res.Egress)
			}
			rewrote := 0
			for _, n := range notes {
				if strings.Contains(n, "header another tool rewrote (mergecap") {
					rewrote++
				}
			}
			if rewrote != 1 {
				t.Errorf("got notes %q, want one saying the header was rewritten", notes)
			}
			if got := WhatIf(append(slices.Clone(res.Notes), res.Warnings()...)); got != tc.whatIf {
				t.Errorf("got what-if %v, want %v (notes %q)", got, tc.whatIf, notes)
			}
		})
	}
}

// rewriteFirstComment rebuilds a pcapng's section header with comment
// instead of its first comment option, as mergecap writes it: each line
// an option of its own.
func rewriteFirstComment(t *testing.T, data []byte, comment string) []byte {
	t.Helper()
	rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(rd.Section().Comment, "l2hub capture\n")
	if !ok {
		t.Fatalf("not an l2hub header: %q", rd.Section().Comment)
	}
	// The section header is the file's first block: rebuild it.
	shbLen := int(le32(data[4:8]))
	shb := data[:shbLen]
	body := shb[8 : 8+16] // byte-order magic, version, section length
	var opts []byte
	for _, line := range strings.Split(comment+rest, "\n") {
		if line == "" {
			continue
		}
		opts = appendOpt(opts, 1, line)
	}
	opts = append(opts, 0, 0, 0, 0) // opt_endofopt
	total := 8 + len(body) + len(opts) + 4
	out := make([]byte, 0, len(data)-shbLen+total)
	out = append(out, shb[:4]...)
	out = appendLE32(out, uint32(total))
	out = append(out, body...)
	out = append(out, opts...)
	out = appendLE32(out, uint32(total))
	return append(out, data[shbLen:]...)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func appendLE32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func appendOpt(b []byte, code uint16, v string) []byte {
	b = append(b, byte(code), byte(code>>8), byte(len(v)), byte(len(v)>>8))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// --json carries every note stderr has (here the note that the capture
// header has no start time), and says whether any makes the replay a
// what-if; an input with only egress copies, which replays nothing, is
// refused before anything is written, its note told.
func TestJobJSONNotesAndEgressOnly(t *testing.T) {
	in := filepath.Join(t.TempDir(), "nostart.pcapng")
	sink, err := capture.Open(capture.Config{Path: in, Overflow: capture.OverflowBlock, Meta: capture.Meta{Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
	endRun(t, sim, sink)
	var stderr []string
	res, err := (&Job{Files: []string{in}, Notes: func(n string) { stderr = append(stderr, n) }}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out, warn bytes.Buffer
	if err := res.Report(&out, &warn, true); err != nil {
		t.Fatal(err)
	}
	var v struct {
		WhatIf bool   `json:"what_if"`
		Notes  []Note `json:"notes"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Notes) != 1 || v.Notes[0].Kind != NoteHeader || v.Notes[0].Input != in || !slices.Contains(stderr, v.Notes[0].Text) || v.WhatIf {
		t.Errorf("got --json notes %+v (what_if %v), want the header note stderr has (%q)", v.Notes, v.WhatIf, stderr)
	}

	egress := filepath.Join(t.TempDir(), "egress.pcapng")
	if err := os.WriteFile(egress, egressOnlyCapture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr = nil
	_, err = (&Job{Files: []string{egress}, Notes: func(n string) { stderr = append(stderr, n) }}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), egress+" has only egress copies") {
		t.Errorf("got %v, want the egress-only input named", err)
	}
	if len(stderr) != 1 || !strings.Contains(stderr[0], "only egress copies") {
		t.Errorf("got notes %q, want the egress-only note", stderr)
	}
}
