package replay

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTimeSplitPcapReplaysEveryFrame: the files one classic pcap is split
// into by time (editcap -c, serve's rotation, the file a set-policy
// starts) share their MACs but hold no copies of one another's frames.
// Replayed together they replay every frame the whole file does, once,
// on the same ports (one per source MAC): a frame whose sender's file
// does not cover its time is no copy of a frame in that file.
func TestTimeSplitPcapReplaysEveryFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		// twice: each frame is recorded twice, 10µs apart, as serve's
		// classic pcap records a frame entering and leaving the hub.
		twice bool
		cuts  []int // the record numbers each file after the first starts at
		// reverse gives the files latest first, as a shell's glob does
		// not, so that a MAC belongs to a file after some of its frames.
		reverse bool
	}{
		{"a link's tcpdump", false, []int{7, 20}, false},
		{"serve's pcap, a frame's copies in two files", true, []int{9, 31}, false},
		{"serve's pcap, cut between a frame's copies", true, []int{10, 30}, false},
		{"serve's pcap, the files latest first", true, []int{9, 31}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []pcapRecord
			for i := range 20 {
				at := time.Duration(i) * 3 * time.Millisecond
				f := udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), fmt.Sprint("a ", i))
				if i%2 == 1 {
					f = udpFrame(t, macB, macA, ipB, ipA, 2, 1, uint16(i), fmt.Sprint("b ", i))
				}
				recs = append(recs, pcapRecord{at, f})
				if tc.twice {
					recs = append(recs, pcapRecord{at + 10*time.Microsecond, f})
				}
			}
			epoch := time.Unix(100, 0)
			_, whole := replayOnce(t, Config{Inputs: []Input{memInput("run.pcap", writePcap(t, epoch, recs))}}, "")
			if whole.Replayed != 20 {
				t.Fatalf("the whole file replayed %d frames, want 20", whole.Replayed)
			}
			var ins []Input
			from := 0
			for i, to := range append(tc.cuts, len(recs)) {
				ins = append(ins, memInput(fmt.Sprintf("run-%04d.pcap", i), writePcap(t, epoch, recs[from:to])))
				from = to
			}
			if tc.reverse {
				slices.Reverse(ins)
			}
			_, res := replayOnce(t, Config{Inputs: ins}, "")
			if res.Replayed != whole.Replayed || res.Packets != whole.Packets {
				t.Errorf("the %d files replayed %d of %d frames (copies %d, echoes %d), want %d of %d as the whole file",
					len(ins), res.Replayed, res.Packets, res.Duplicates, res.Echoes, whole.Replayed, whole.Packets)
			}
			// As for the whole file, a port per source MAC: no file is a VM.
			got, want := portStats(res), portStats(whole)
			if len(got) != len(want) {
				t.Errorf("got ports %v, want %v", got, want)
			}
			for name, w := range want {
				if g := got[name]; g.RxFrames != w.RxFrames || g.TxFrames != w.TxFrames {
					t.Errorf("port %s: got rx %d tx %d, want rx %d tx %d as the whole file", name, g.RxFrames, g.TxFrames, w.RxFrames, w.TxFrames)
				}
			}
			if res.CopiesUnseen != 0 {
				t.Errorf("got %d copies with none seen in their sender's input, want 0", res.CopiesUnseen)
			}
		})
	}
}

// TestCopiesNotHeldAreWarned: inputs that overlap in time but are no
// per-VM captures of one run (two links' captures, here, that share a
// source MAC) drop the frames of a MAC another input owns as its copies
// although it holds none of them; the report says how many, and that
// they may be lost.
func TestCopiesNotHeldAreWarned(t *testing.T) {
	var x, y []pcapRecord
	for i := range 10 {
		at := time.Duration(i) * 10 * time.Millisecond
		x = append(x, pcapRecord{at, udpFrame(t, macA, macB, ipA, ipB, 1, 2, uint16(i), "on link x")})
		y = append(y, pcapRecord{at + time.Millisecond, udpFrame(t, macA, macC, ipA, ipC, 1, 3, uint16(i), "on link y")},
			pcapRecord{at + 5*time.Millisecond, udpFrame(t, macB, macA, ipB, ipA, 2, 1, uint16(i), "from b")})
	}
	epoch := time.Unix(100, 0)
	_, res := replayOnce(t, Config{Inputs: []Input{memInput("x.pcap", writePcap(t, epoch, x)), memInput("y.pcap", writePcap(t, epoch, y))}}, "")
	// y's frames of a after x's last are no copies of x's: replayed.
	if res.Duplicates != 9 || res.CopiesUnseen != 9 {
		t.Fatalf("got %d copies, %d of them not held by their sender's input; want 9 and 9", res.Duplicates, res.CopiesUnseen)
	}
	var warn strings.Builder
	if err := (&JobResult{Result: res}).Report(io.Discard, &warn, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "warning: 9 of the 9 frames not replayed as copies recorded by another input") {
		t.Errorf("got warnings:\n%s\nwant one counting the 9 copies their sender's input does not hold", warn.String())
	}
}

// TestPerVMCopiesAreSeen: in per-VM captures of one run, every copy left
// out is one the sender's input holds, though one VM's clock ran 730ms
// behind the other's, so that their stamps do not overlap: they are no
// files of one link split in time.
func TestPerVMCopiesAreSeen(t *testing.T) {
	pv := perVMCaptures(t, 100)
	_, res := replayOnce(t, Config{Inputs: []Input{memInput("packets-A.pcap", pv.a), memInput("packets-B.pcap", pv.b)}}, "")
	if res.Duplicates != pv.duplicates || res.CopiesUnseen != 0 || res.ForSender != 0 {
		t.Errorf("got %d copies (%d not held by their sender's input), %d frames replayed for their sender; want %d copies, all held, none",
			res.Duplicates, res.CopiesUnseen, res.ForSender, pv.duplicates)
	}
}
