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
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if files := sink.Files(); len(files) != 3 {
		t.Fatalf("the run wrote %v, want three files", files)
	}
	return sink.Files()
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
// zero, which a rule on lengths decides on as live; a rule that reads
// bytes past the Ethernet header (here a payload match) reads zeros
// instead of what the frame had, and the replay is then a what-if.
func TestReplayWhatIfForCutFramesThatRulesRead(t *testing.T) {
	ports := []string{"a", "b"}
	for _, tc := range []struct {
		name, policy string
		whatIf       bool
	}{
		{"mtu", "seed: 1\nrules:\n  - {name: small, match: {link: a->b}, mtu: 300}\n", false},
		{"payload", "seed: 1\nrules:\n  - {name: word, match: {link: a->b, protocol: udp, payload: \"late\"}, loss: 100%}\n", true},
		{"corrupt", "seed: 1\nrules:\n  - {name: flip, match: {link: a->b}, corrupt: 50%}\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "run.pcapng")
			pol := mustPolicy(t, tc.policy, ports)
			sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Snaplen: 64,
				Meta: capture.Meta{Version: "test", Start: hub.DefaultEpoch, Seed: pol.Seed(), PolicyHash: pol.Hash()}})
			if err != nil {
				t.Fatal(err)
			}
			sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: ports, Policy: pol, Observers: []hub.Observer{sink}})
			for i := range 3 {
				payload := strings.Repeat("x", 100) + "late"
				sim.SendAt(time.Duration(i)*time.Millisecond, "a", udpFrame(t, macA, macB, ipA, ipB, 1000, 2000, uint16(i), payload))
			}
			sim.Drain()
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			res, err := (&Job{Files: []string{path}, Policy: writeFile(t, dir, "p.yaml", tc.policy)}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			notes := append(slices.Clone(res.Notes), res.Warnings()...)
			if got := WhatIf(notes); got != tc.whatIf {
				t.Errorf("got what-if %v, want %v; notes %q", got, tc.whatIf, notes)
			}
			if want := map[bool]int{true: 3}[tc.whatIf]; res.Inputs[0].CutRead != want {
				t.Errorf("got %d cut frames read by rules, want %d", res.Inputs[0].CutRead, want)
			}
		})
	}
}
