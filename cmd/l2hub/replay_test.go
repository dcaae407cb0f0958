package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
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

// replayWhatIf is the policy the replay tests run: it acts on frames
// between a and b in every way and has a time window.
const replayWhatIf = `seed: 1
rules:
  - {name: loss-a-b, match: {link: a->b}, loss: 20%}
  - {name: slow-b-a, match: {link: b->a}, delay: 3ms±1ms}
partitions:
  - {name: split, groups: a|b, start: 300ms, end: 400ms}
`

var (
	macVMA = hubtest.MAC("52:54:00:12:34:0a")
	macVMB = hubtest.MAC("52:54:00:12:34:0b")
)

// writeL2hubCapture writes an l2hub ingress+egress capture of a and b
// exchanging n frames over about a second, as serve would with a seed-7
// policy, and returns its path.
func writeL2hubCapture(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "live.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock,
		Meta: capture.Meta{Version: "test", Seed: 7, PolicyHash: "0123", Start: hub.DefaultEpoch}})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	for i := range n {
		at := time.Duration(i) * time.Second / time.Duration(n)
		if i%2 == 0 {
			sim.SendAt(at, "a", hubtest.Frame(macVMB, macVMA, fmt.Sprintf("a-%d", i)))
		} else {
			sim.SendAt(at, "b", hubtest.Frame(macVMA, macVMB, fmt.Sprintf("b-%d", i)))
		}
	}
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePcapFile writes a classic microsecond pcap (as QEMU's filter-dump
// does) with gopacket's writer.
func writePcapFile(t *testing.T, path string, epoch time.Time, frames [][]byte, gap time.Duration) {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: epoch.Add(time.Duration(i) * gap), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

// ingressComments lists, per ingress packet of a capture, its port and
// comment: the decisions a hub made.
func ingressComments(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, p := range capturetest.Packets(t, path) {
		if p.Dir == capture.DirIn {
			out = append(out, p.IfName+" "+p.Comment)
		}
	}
	return out
}

func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 200)
	policy := filepath.Join(dir, "what-if.yaml")
	if err := os.WriteFile(policy, []byte(replayWhatIf), 0o644); err != nil {
		t.Fatal(err)
	}

	out1, out2, out3 := filepath.Join(dir, "1.pcapng"), filepath.Join(dir, "2.pcapng"), filepath.Join(dir, "3.pcapng")
	stdout, stderr, err := runCmd(t, "replay", in, "--policy", policy, "-o", out1)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	for _, want := range []string{"seed 7 (from capture)", "replayed 200 of", "rule loss-a-b", "partition split (a|b)", "wrote "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// The capture's run had another policy (hash 0123): the replay says
	// it is a what-if, and draws no progress bar on a stderr that is no
	// terminal.
	if !strings.Contains(stderr, "is not the one the capture's run had (hash 0123): its decisions are a what-if") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("got stderr %q with stderr not a terminal, want the what-if note alone (no progress bar)", stderr)
	}
	if _, stderr, err := runCmd(t, "replay", in); err != nil || !strings.Contains(stderr, "the capture's run had a policy (hash 0123, seed 7); this replay has none") {
		t.Errorf("replay without --policy: %v, stderr %q; want a note that the run had a policy", err, stderr)
	}
	if _, _, err := runCmd(t, "replay", in, "--policy", policy, "-o", out2); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(out1)
	b2, _ := os.ReadFile(out2)
	if len(b1) == 0 || !bytes.Equal(b1, b2) {
		t.Fatalf("two replays wrote %d and %d bytes that differ; want byte-identical files", len(b1), len(b2))
	}
	stdout, _, err = runCmd(t, "replay", in, "--policy", policy, "--seed", "9", "-o", out3)
	if err != nil || !strings.Contains(stdout, "seed 9 (from --seed)") {
		t.Fatalf("replay --seed 9: %v\n%s", err, stdout)
	}
	b3, _ := os.ReadFile(out3)
	if bytes.Equal(b1, b3) {
		t.Error("--seed 9 gave the same file as the capture's seed 7")
	}
	var dropped int
	for _, c := range ingressComments(t, out1) {
		if strings.Contains(c, "dropped: ") {
			dropped++
		}
	}
	if dropped == 0 {
		t.Error("the replay's capture shows no dropped frame; want the policy's drops with their reasons")
	}
}

func TestReplayCommandPerVMFiles(t *testing.T) {
	dir := t.TempDir()
	// Two filter-dump files: each VM's own frames and the other's, clocks apart.
	var aFile, bFile [][]byte
	for i := range 50 {
		fa := hubtest.Frame(macVMB, macVMA, fmt.Sprintf("from a %d", i))
		fb := hubtest.Frame(macVMA, macVMB, fmt.Sprintf("from b %d", i))
		aFile = append(aFile, fa, fb)
		bFile = append(bFile, fa, fb)
	}
	pa, pb := filepath.Join(dir, "packets-A.pcap"), filepath.Join(dir, "packets-B.pcap")
	writePcapFile(t, pa, time.Unix(10, 0), aFile, time.Millisecond)
	writePcapFile(t, pb, time.Unix(10, 0).Add(30*time.Microsecond), bFile, time.Millisecond)
	stdout, stderr, err := runCmd(t, "replay", "--port", "a="+pa, "--port", "b="+pb, "--loss", "a->b=50%", "--seed", "3", "-o", filepath.Join(dir, "out.pcapng"))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	for _, want := range []string{"replayed 100 of 200 frames", "100 copies recorded by another input", "-> port a", "-> port b", "rule a->b"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}

// TestReplayOneFileRefusesUnknownPorts: one foreign file gives a port per
// source MAC, so a policy naming ports a and b matches nothing; it is
// refused, as with two files or serve, and --port NAME=MAC fixes it.
func TestReplayOneFileRefusesUnknownPorts(t *testing.T) {
	dir := t.TempDir()
	var frames [][]byte
	for i := range 20 {
		frames = append(frames, hubtest.Frame(macVMB, macVMA, fmt.Sprintf("from a %d", i)), hubtest.Frame(macVMA, macVMB, fmt.Sprintf("from b %d", i)))
	}
	one := filepath.Join(dir, "one.pcap")
	writePcapFile(t, one, time.Unix(10, 0), frames, time.Millisecond)
	_, _, err := runCmd(t, "replay", one, "--loss", "a->b=10%")
	for _, want := range []string{`port "a" does not exist`, "m52540012340a", "--port NAME=MAC"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("replay of one file with --loss a->b: got %v, want an error containing %q", err, want)
		}
	}
	stdout, _, err := runCmd(t, "replay", one, "--port", "a=52:54:00:12:34:0a", "--port", "b=52:54:00:12:34:0b", "--loss", "a->b=50%", "--seed", "3")
	if err != nil || !strings.Contains(stdout, "rule a->b") {
		t.Errorf("replay of one file with its MACs named: %v\n%s", err, stdout)
	}
	// The per-MAC names are ports a policy may name.
	if _, _, err := runCmd(t, "replay", one, "--loss", "m52540012340a->m52540012340b=50%"); err != nil {
		t.Errorf("replay of one file naming its per-MAC ports: %v", err)
	}
}

func TestReplayCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	in := writeL2hubCapture(t, dir, 100)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	cut := cutInLastPacket(t, data)
	for _, tc := range []struct {
		name, errText, errOut string
		data                  []byte
		args                  []string
	}{
		{"truncated", "--allow-truncated accepts a capture cut short", "l2hub replay: warning: ", cut, nil},
		{"truncated-allowed", "", "l2hub replay: warning: ", cut, []string{"--allow-truncated"}},
		{"corrupt", "replay stopped early on bad input", "l2hub replay: error: ", corruptAt(data, len(data)*2/3), nil},
		{"not-a-capture", "not a pcap or pcapng file", "", []byte("hello, world: not a capture"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pcapng")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := runCmd(t, append([]string{"replay", path, "--loss", "a->b=10%"}, tc.args...)...)
			if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Fatalf("got error %v, want %q", err, tc.errText)
			}
			if tc.errOut != "" && (!strings.Contains(stderr, tc.errOut) || !strings.Contains(stderr, "at byte") || !strings.Contains(stderr, "packet ")) {
				t.Errorf("stderr does not say where reading stopped:\n%s", stderr)
			}
			if strings.Contains(stdout, "warning") || strings.Contains(stdout, "error:") {
				t.Errorf("stdout carries a warning or error; it belongs on stderr:\n%s", stdout)
			}
			if err != nil && tc.name != "not-a-capture" && !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not name the file", err)
			}
		})
	}
}

// cutInLastPacket ends data 10 bytes before its last packet block ends.
func cutInLastPacket(t *testing.T, data []byte) []byte {
	t.Helper()
	rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for p, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		last = p.Offset
	}
	end := last + int64(binary.LittleEndian.Uint32(data[last+4:]))
	return data[:end-10]
}

// corruptAt breaks the length field of the pcapng block that covers offset.
func corruptAt(data []byte, offset int) []byte {
	b := bytes.Clone(data)
	rd, _ := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
	for p, err := range rd.All() {
		if err != nil {
			break
		}
		if p.Offset >= int64(offset) {
			copy(b[p.Offset+4:], []byte{0xfd, 0xff, 0xff, 0x7f})
			break
		}
	}
	return b
}

// A capture without frames (a lab run interrupted before its first, the
// file a set-policy started) still has its ports and its start time.
func TestReplayCommandFramelessCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	start := time.Date(2026, 12, 6, 9, 49, 54, 0, time.UTC)
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock,
		Meta: capture.Meta{Version: "test", Start: start}})
	if err != nil {
		t.Fatal(err)
	}
	hubtest.New(t, hubtest.Config{Mode: hub.ModeSwitch, Ports: []string{"a", "b"}, Observers: []hub.Observer{sink}})
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCmd(t, "replay", path, "--partition", "a|b")
	if err != nil {
		t.Fatalf("replay --partition 'a|b' of a frameless capture of ports a and b: %v\n%s", err, stderr)
	}
	for _, want := range []string{"from 2026-12-06T09:49:54", "\n  a ", "\n  b "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}
