package capture

import (
	"fmt"
	"testing"
	"time"

	"l2hub/hub"
)

// TestWritesEndOnBlocks: every write(2) a Sink makes ends where a block
// ends, so that a process killed between two writes leaves a file of whole
// blocks. A batch larger than a pipe's buffer (writePiece) goes out in
// several writes, each of whole blocks, and a block larger than that goes
// out alone, in one write.
func TestWritesEndOnBlocks(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			fs := newMemFS()
			cfg := memConfig(fs)
			cfg.Format = format
			cfg.Snaplen = MaxSnaplen
			cfg.FlushInterval = time.Hour // batches are written when full, and at Close
			s := mustOpen(t, cfg)
			s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
			// Sizes that do not divide writePiece, and two frames larger
			// than it: a batch of BatchBytes holds several pieces' worth.
			sizes := []int{1514, 999, 60, 4000, writePiece + 1000, 333, 9000, 2*writePiece + 7}
			for k := range 600 {
				n := sizes[k%len(sizes)]
				if n > writePiece && k > len(sizes) {
					n = 1200 // two large frames are enough
				}
				ev := hub.Event{Time: t0.Add(time.Duration(k) * time.Millisecond), Port: 0, PortName: "a", Frame: frame(n, 1, 2, k)}
				s.Observe(&ev)
			}
			mustClose(t, s)

			f := fs.files[cfg.Path]
			whole := f.Bytes()
			split := splitBlocks
			if format != FormatPcapng {
				split = splitPcap
			}
			blocks, err := split(whole)
			if err != nil {
				t.Fatalf("the file: %v", err)
			}
			ends := map[int]int{} // block end offset -> block length
			off := 0
			for _, b := range blocks {
				off += len(b)
				ends[off] = len(b)
			}
			if len(f.writes) < 3 {
				t.Fatalf("got %d writes, want a file written in several", len(f.writes))
			}
			off, big := 0, 0
			for i, w := range f.writes {
				off += len(w)
				n, ok := ends[off]
				if !ok {
					t.Errorf("write %d of %d bytes ends at byte %d, inside a block", i, len(w), off)
					continue
				}
				if len(w) > writePiece {
					big++
					if n != len(w) {
						t.Errorf("write %d of %d bytes is over the %d-byte piece but not one block (the last is %d bytes)", i, len(w), writePiece, n)
					}
				}
			}
			if big != 2 {
				t.Errorf("got %d writes larger than a piece, want 2 (the two large frames, each alone)", big)
			}
			if got, want := fmt.Sprint(len(whole)), fmt.Sprint(off); got != want {
				t.Errorf("the writes add up to %s bytes, the file holds %s", want, got)
			}
		})
	}
}
