package replay

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// rotatedRun records the ingress of a run of 24 frames a->b, a file
// every 8 (run.pcapng, run-0001.pcapng, run-0002.pcapng), under policy
// (its loss draws make each frame's decision depend on those before it).
func rotatedRun(t *testing.T, dir, policy string) []string {
	t.Helper()
	ports := []string{"a", "b"}
	pol := mustPolicy(t, policy, ports)
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash(), Extra: map[string]string{"mode": "hub"}}
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta, RotatePackets: 8, Points: capture.PointsIngress})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
	for i := range 24 {
		sim.SendAt(time.Duration(i)*time.Millisecond, "a", hubtest.Frame(macB, macA, "frame "+string(rune('a'+i))))
	}
	files := endRun(t, sim, sink)
	if len(files) != 3 {
		t.Fatalf("the run wrote %v, want three files", files)
	}
	return files
}

// beforeStatistics is data cut where its first Interface Statistics Block
// starts: a file that ends on a block boundary, as a copy stopped there
// or a killed hub leaves it, and reads cleanly.
func beforeStatistics(t *testing.T, data []byte) []byte {
	t.Helper()
	for off := 0; off+8 <= len(data); {
		typ, n := binary.LittleEndian.Uint32(data[off:]), int(binary.LittleEndian.Uint32(data[off+4:]))
		if typ == 5 { // Interface Statistics Block
			return data[:off]
		}
		if n < 12 {
			break
		}
		off += n
	}
	t.Fatal("no statistics block")
	return nil
}

// TestReplayWhatIfWhenAnInputLackingDataIsFollowed: an input that lacks
// part of what its run recorded (cut short, or without the statistics
// blocks it ends with), followed by later files of the run, leaves the
// decisions after it a what-if, whether the cut is clean or not; the
// run's last file lacking its end is followed by nothing, and is a
// warning alone.
func TestReplayWhatIfWhenAnInputLackingDataIsFollowed(t *testing.T) {
	const policy = "seed: 5\nrules:\n  - {name: lossy, match: {link: a->b}, loss: 30%}\n"
	for _, tc := range []struct {
		name   string
		which  int // the file cut
		cut    func(t *testing.T, data []byte) []byte
		whatIf bool
	}{
		{"clean-cut-followed", 1, beforeStatistics, true},
		{"mid-block-followed", 1, func(_ *testing.T, data []byte) []byte { return data[:len(data)-30] }, true},
		{"last-file-clean-cut", 2, beforeStatistics, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := rotatedRun(t, dir, policy)
			data, err := os.ReadFile(files[tc.which])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(files[tc.which], tc.cut(t, data), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := (&Job{Files: files, Policy: writeFile(t, dir, "p.yaml", policy)}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			if got := WhatIf(notes); got != tc.whatIf {
				t.Errorf("got what-if %v, want %v; notes %q", got, tc.whatIf, notes)
			}
			if tc.whatIf && !slices.ContainsFunc(notes, func(n Note) bool {
				return n.Kind == NoteWhatIf && n.Input == files[tc.which] && strings.Contains(n.Text, "lacks part of what the run recorded")
			}) {
				t.Errorf("no what-if note on %s: %q", files[tc.which], notes)
			}
		})
	}
}

// TestReplayWhatIfForCutFramesThatRulesRead: frames cut short by a
// snaplen are replayed at their length on the wire, the missing bytes
// zero, which a rule on lengths decides on as live. A rule that reads
// bytes the capture lacks of a frame (a header past the cut, a payload
// prefix longer than what was kept) reads zeros instead, and the replay
// is then a what-if; one whose bytes were all kept (the headers of a
// frame cut in its payload, a prefix the kept bytes already differ from,
// a frame that is not IP under an IP rule) is not. A rule counts only on
// the links the frame takes (from, to, link): in switch mode a unicast to
// a learned MAC takes one. Criteria written with spaces read as the
// policy compiled them, in whatever order they are written.
func TestReplayWhatIfForCutFramesThatRulesRead(t *testing.T) {
	x40 := strings.Repeat("78", 40) // "x" 40 times: past a cut at 64 bytes (42 of headers)
	nonIP := append(append(append([]byte{}, macB[:]...), macA[:]...), 0x88, 0xb5)
	nonIP = append(nonIP, strings.Repeat("x", 100)...)
	for _, tc := range []struct {
		name, policy string
		snaplen      int
		nonIP        bool
		whatIf       bool
		// three: ports a, b and c (else a and b); mode: the replay's;
		// learn: b sends first, so that a switch learns its MAC.
		three, learn bool
		mode         string
	}{
		{"mtu", "seed: 1\nrules:\n  - {name: small, match: {link: a->b}, mtu: 300}\n", 64, false, false, false, false, ""},
		{"headers-kept", "seed: 1\nrules:\n  - {name: udp, match: {link: a->b, protocol: udp, dst_port: 2000, dst_ip: 10.42.0.11}, loss: 50%}\n", 64, false, false, false, false, ""},
		{"ports-cut", "seed: 1\nrules:\n  - {name: udp, match: {link: a->b, dst_port: 2000}, loss: 50%}\n", 38, false, true, false, false, ""},
		{"payload-kept", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, payload: \"xxxx\"}, loss: 50%}\n", 64, false, false, false, false, ""},
		{"payload-differs-before-cut", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, protocol: udp, payload: \"late\"}, loss: 100%}\n", 64, false, false, false, false, ""},
		{"payload-hex-past-cut", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, payload_hex: \"" + x40 + "\"}, loss: 100%}\n", 64, false, true, false, false, ""},
		// The captured payload ends exactly where the criterion does: all
		// of it was read, and one byte more was not.
		{"payload-ends-at-cut", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, payload_hex: \"" + strings.Repeat("78", 22) + "\"}, loss: 100%}\n", 64, false, false, false, false, ""},
		{"payload-one-past-cut", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, payload_hex: \"" + strings.Repeat("78", 23) + "\"}, loss: 100%}\n", 64, false, true, false, false, ""},
		// A MAC rule on records cut inside the source MAC (bytes 6-11).
		{"mac-cut", "seed: 1\nrules:\n  - {name: mac, match: {link: a->b, src_mac: \"52:54:00:12:34:0a\"}, loss: 50%}\n", 8, false, true, false, false, ""},
		{"mac-kept", "seed: 1\nrules:\n  - {name: mac, match: {link: a->b, src_mac: \"52:54:00:12:34:0a\"}, loss: 50%}\n", 12, false, false, false, false, ""},
		{"other-port", "seed: 1\nrules:\n  - {name: word, match: {from: b, payload_hex: \"" + x40 + "\"}, loss: 100%}\n", 64, false, false, false, false, ""},
		{"not-ip", "seed: 1\nrules:\n  - {name: udp, match: {protocol: udp, dst_port: 2000}, loss: 50%}\n", 20, true, false, false, false, ""},
		{"corrupt", "seed: 1\nrules:\n  - {name: flip, match: {link: a->b}, corrupt: 50%}\n", 64, false, false, false, false, ""},
		{"corrupt-skip-cut", "seed: 1\nrules:\n  - {name: flip, match: {link: a->b}, corrupt: {probability: 50%, skip: transport}}\n", 38, false, true, false, false, ""},
		{"spaced-link", "seed: 1\nrules:\n  - {name: udp, match: {link: \"a -> b\", dst_port: 2000}, loss: 50%}\n", 38, false, true, false, false, ""},
		{"spaced-length", "seed: 1\nrules:\n  - {name: udp, match: {length: \"100 - 1500\", dst_port: 2000}, loss: 50%}\n", 38, false, true, false, false, ""},
		{"spaced-during", "seed: 1\nrules:\n  - {name: udp, match: {during: \"0s - 5s\", dst_port: 2000}, loss: 50%}\n", 38, false, true, false, false, ""},
		{"spaced-link-last", "seed: 1\nrules:\n  - {name: udp, match: {dst_port: 2000, link: \"b -> a\"}, loss: 50%}\n", 38, false, false, false, false, ""},
		{"to-other-port", "seed: 1\nrules:\n  - {name: udp, match: {to: a, dst_port: 2000}, loss: 50%}\n", 38, false, false, false, false, ""},
		{"link-egress-flooded", "seed: 1\nrules:\n  - {name: udp, match: {link: a->c, dst_port: 2000}, loss: 50%}\n", 38, false, true, true, true, "hub"},
		{"link-egress-not-taken", "seed: 1\nrules:\n  - {name: udp, match: {link: a->c, dst_port: 2000}, loss: 50%}\n", 38, false, false, true, true, "switch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ports := []string{"a", "b"}
			if tc.three {
				ports = append(ports, "c")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "run.pcapng")
			pol := mustPolicy(t, tc.policy, ports)
			sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Snaplen: tc.snaplen,
				Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash()}})
			if err != nil {
				t.Fatal(err)
			}
			mode := hub.ModeHub
			if tc.mode == "switch" {
				mode = hub.ModeSwitch
			}
			sim := hubtest.New(t, hubtest.Config{Mode: mode, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
			if tc.learn { // 20 bytes: kept whole
				sim.Send("b", append(append(append([]byte{}, macA[:]...), macB[:]...), 0x88, 0xb5, 1, 2, 3, 4, 5, 6))
			}
			for i := range 3 {
				f := udpFrame(t, macA, macB, ipA, ipB, 1000, 2000, uint16(i), strings.Repeat("x", 100))
				if tc.nonIP {
					f = nonIP
				}
				sim.SendAt(time.Duration(i)*time.Millisecond, "a", f)
			}
			endRun(t, sim, sink)
			res, err := (&Job{Files: []string{path}, Policy: writeFile(t, dir, "p.yaml", tc.policy), Mode: tc.mode}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Inputs[0].Cut != 3 {
				t.Fatalf("got %d frames cut short, want 3", res.Inputs[0].Cut)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			if got := WhatIf(notes); got != tc.whatIf {
				t.Errorf("got what-if %v, want %v; notes %q", got, tc.whatIf, notes)
			}
			if want := map[bool]int{true: 3}[tc.whatIf]; res.Inputs[0].CutRead != want {
				t.Errorf("got %d cut frames read by rules past the cut, want %d", res.Inputs[0].CutRead, want)
			}
		})
	}
}
