package replay

import (
	"context"
	"math"
	"slices"
	"testing"

	"l2hub/capture"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// dropBlocks returns a little-endian pcapng without the blocks drop
// chooses (by type, and for packet blocks their number from 1), as a tool
// that deletes records writes it.
func dropBlocks(t *testing.T, data []byte, drop func(typ uint32, packet int) bool) []byte {
	t.Helper()
	var out []byte
	packet := 0
	for off := 0; off < len(data); {
		if off+8 > len(data) {
			t.Fatalf("a block header cut at %d", off)
		}
		typ, n := le32(data[off:]), int(le32(data[off+4:]))
		if typ == 6 {
			packet++
		}
		if !drop(typ, packet) {
			out = append(out, data[off:off+n]...)
		}
		off += n
	}
	return out
}

// An l2hub capture ends each file with a statistics block per port that
// counts its records there: records deleted after the run (editcap -D)
// show as fewer than counted, and a file without the blocks (a tool that
// rewrote it, a killed hub) cannot be checked, which the replay says too.
func TestReplayChecksRecordsAgainstStatistics(t *testing.T) {
	data := describedCapture(t, capture.Meta{}, func(sim *hubtest.Sim, _ *capture.Sink) {
		for range 3 {
			sim.Send("a", hubtest.Frame(hubtest.Broadcast, hubtest.MAC("02:00:00:00:00:0a"), "one"))
		}
	})
	const epb, isb = 6, 5
	for _, tc := range []struct {
		name      string
		drop      func(typ uint32, packet int) bool
		lacking   uint64
		ports     []string
		unchecked bool
	}{
		{"intact", func(uint32, int) bool { return false }, 0, nil, false},
		{"a-record-deleted", func(typ uint32, n int) bool { return typ == epb && n == 2 }, 1, []string{"b"}, false},
		{"statistics-left-out", func(typ uint32, _ int) bool { return typ == isb }, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := dropBlocks(t, data, tc.drop)
			r, err := Open(Config{Inputs: []Input{memInput("run.pcapng", in)}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(context.Background(), RunConfig{})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Inputs[0]
			if got.LackingRecords != tc.lacking || !slices.Equal(got.LackingPorts, tc.ports) || got.NoStatistics != tc.unchecked {
				t.Errorf("got lacking %d on %v, unchecked %v; want %d on %v, %v", got.LackingRecords, got.LackingPorts, got.NoStatistics, tc.lacking, tc.ports, tc.unchecked)
			}
			noted := slices.ContainsFunc(res.inputNotes(), func(n Note) bool { return n.Kind == NoteMissing })
			if noted != (tc.lacking > 0 || tc.unchecked) {
				t.Errorf("got notes %q; want a missing-records one: %v", res.inputNotes(), !noted)
			}
		})
	}
}

// TestStatisticsCountsSaturate: the counts of a crafted statistics comment
// add up to at most the largest count, not round to a small number that
// would hide (or make up) missing records: per block, over the blocks of
// an interface, and over the interfaces of the input (none of which
// holds a record here).
func TestStatisticsCountsSaturate(t *testing.T) {
	const huge = "18446744073709551615" // math.MaxUint64
	stats := func(from, to string) []string {
		return []string{"l2hub port b: this file: " + from + " frames from the peer (x), " + to + " for the peer (y)"}
	}
	for _, tc := range []struct {
		name   string
		blocks map[int][][]string // per interface, its statistics blocks' comments
	}{
		{"one block", map[int][][]string{0: {stats(huge, "2")}}},
		{"two blocks", map[int][][]string{0: {stats(huge, "0"), stats("3", "0")}}},
		{"two interfaces", map[int][][]string{0: {stats(huge, "0")}, 1: {stats(huge, "0")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &source{l2hub: true}
			s.countRecords()
			for iface, blocks := range tc.blocks {
				for _, comments := range blocks {
					s.statistics(0, iface, comments)
				}
			}
			s.compareRecords(nil)
			if s.lacking.n != math.MaxUint64 {
				t.Errorf("got %d records lacking, want %d (saturated)", s.lacking.n, uint64(math.MaxUint64))
			}
		})
	}
}

// TestLackingPortIsNamedOnce: an input whose sections each lack records
// of one port names that port once in the warning ("ports b"), not once a
// section ("ports b, b, b").
func TestLackingPortIsNamedOnce(t *testing.T) {
	s := &source{l2hub: true}
	s.countRecords()
	ifaces := []capture.Interface{{Name: "b"}}
	for range 3 {
		s.statistics(0, 0, []string{"l2hub port b: this file: 2 frames from the peer (x), 1 for the peer (y)"})
		s.compareRecords(ifaces)
	}
	if s.lacking.n != 9 || !slices.Equal(s.lacking.ports, []string{"b"}) {
		t.Errorf("got %d records lacking on ports %q, want 9 on b, named once", s.lacking.n, s.lacking.ports)
	}
}

// TestStatisticsDropReasonsThatDoNotAddUp: a statistics comment whose
// drops by reason do not add up to its dropped count (cut short, or
// another version's) has its reasons taken as unknown, and the replay's
// drops by reason are not compared with them: no made-up "counters
// differ" note.
func TestStatisticsDropReasonsThatDoNotAddUp(t *testing.T) {
	for _, tc := range []struct {
		list    string
		dropped uint64
		ok      bool
	}{
		{"runt=1 policy=3", 4, true},
		{"policy=1", 4, false},
		{"policy=5", 4, false},
		{"policy=x", 1, false},
	} {
		if _, ok := parseDrops(tc.list, tc.dropped); ok != tc.ok {
			t.Errorf("got parseDrops(%q, %d) ok = %v, want %v", tc.list, tc.dropped, ok, tc.ok)
		}
	}
	s := &source{l2hub: true}
	s.countRecords()
	s.statistics(0, 0, []string{"l2hub port b: this file: 0 frames from the peer (x), 0 for the peer (y); hub counters since the port was added: rx 0, tx 0, dropped 4 (policy=1)"})
	live, ok := s.live["b"]
	if !ok {
		t.Fatalf("got live counters %v, want port b's", s.live)
	}
	res := &JobResult{Result: &Result{Ports: []PortResult{{Name: "b",
		Stats: hub.StatsSnapshot{Drops: map[string]uint64{hub.DropPolicy.String(): 4}}, Live: &live}}}}
	for _, n := range res.liveDiffers() {
		t.Errorf("got note %q, want none: the live drops' reasons are unknown", n.Text)
	}
}
