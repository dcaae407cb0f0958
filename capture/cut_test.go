package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"l2hub/hub"
)

// readUntilError reads b to its end and returns how many packets came
// before the error (nil at a clean end).
func readUntilError(t *testing.T, b []byte, opts ReadOptions) (int, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), opts)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// recordStarts returns the offset of every block (pcapng, after the
// section header) or record (pcap) of a well-formed capture.
func recordStarts(t *testing.T, b []byte, format Format) []int {
	t.Helper()
	var at []int
	if format == FormatPcapng {
		for q := int(binary.LittleEndian.Uint32(b[4:])); q < len(b); q += int(binary.LittleEndian.Uint32(b[q+4:])) {
			at = append(at, q)
		}
		return at
	}
	for q := 24; q < len(b); q += 16 + int(binary.LittleEndian.Uint32(b[q+8:])) {
		at = append(at, q)
	}
	return at
}

// TestWrongLengthIsNotACut: a length field with one more bit set (up to
// the block limit) runs past the end of the file; that must read as
// corrupt at that block, never as a cut tail that Repair would trim with
// every packet after it. Classic pcap records have no trailing length, so
// a wrong length in the last record cannot be told from a cut one: it is
// the one exception.
func TestWrongLengthIsNotACut(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			full := smallCapture(t, format, 40)
			starts := recordStarts(t, full, format)
			lenAt := 4 // pcapng: the block's total length
			if format != FormatPcapng {
				lenAt = 8 // pcap: the captured length
			}
			tried := 0
			for i, at := range starts {
				if format != FormatPcapng && i == len(starts)-1 {
					continue
				}
				orig := binary.LittleEndian.Uint32(full[at+lenAt:])
				for bit := 2; bit < 20; bit++ {
					wrong := orig | 1<<bit
					if wrong == orig || int64(at)+int64(wrong) <= int64(len(full)) {
						continue // not past the end: the trailing length tells
					}
					tried++
					b := bytes.Clone(full)
					binary.LittleEndian.PutUint32(b[at+lenAt:], wrong)
					_, err := readUntilError(t, b, ReadOptions{})
					var re *ReadError
					if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || re.Offset != int64(at) {
						t.Fatalf("length %d at byte %d set to %d: got %v, want ErrCorrupt at byte %d", orig, at+lenAt, wrong, err, at)
					}
				}
			}
			if tried < 100 {
				t.Fatalf("only %d wrong lengths tried", tried)
			}
		})
	}
}

// TestCutIsTruncated: a capture cut at any byte after its first block
// reads as truncated, and the error says how much of the cut block there
// is, whatever the frames hold.
func TestCutIsTruncated(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			full := smallCapture(t, format, 40)
			starts := recordStarts(t, full, format)
			for cut := starts[0] + 1; cut < len(full); cut++ {
				last := 0
				for _, at := range starts {
					if at <= cut {
						last = at
					}
				}
				if last == cut {
					continue // a clean end between blocks
				}
				_, err := readUntilError(t, full[:cut], ReadOptions{})
				var re *ReadError
				if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) || re.Offset != int64(last) || re.Tail != int64(cut-last) {
					t.Fatalf("cut at %d: got %v (%+v), want ErrTruncated at byte %d with a tail of %d bytes", cut, err, re, last, cut-last)
				}
			}
		})
	}
}

// TestWrongLengthErrors: what the error says when a length runs past the
// end.
func TestWrongLengthErrors(t *testing.T) {
	le := binary.LittleEndian
	f := frame(60, 1, 2, 0)
	ng := (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0).epb(0, 1, f, 60)
	second := len(ng.b)
	for k := range 20 {
		ng.epb(0, uint64(k+2), f, 60)
	}
	epbSize := (len(ng.b) - second) / 20
	pc := newPcap(le, false, 65536, 1).rec(1, 0, f, 60)
	pcSecond := len(pc.b)
	for k := range 20 {
		pc.rec(uint32(k+2), 0, f, 60)
	}
	set := func(b []byte, at int, v uint32) []byte {
		b = bytes.Clone(b)
		le.PutUint32(b[at:], v)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		opts ReadOptions
		at   int
		want string
	}{
		{"epb-inside", set(ng.b, second+4, uint32(epbSize)|0x10000), ReadOptions{}, second,
			fmt.Sprintf("the enhanced packet block claims %d bytes, %d more than the input has from its start, yet a whole %d-byte enhanced packet block starts %d bytes into it",
				epbSize|0x10000, epbSize|0x10000-20*epbSize, epbSize, epbSize)},
		{"last-epb-whole", set(ng.b, len(ng.b)-epbSize+4, uint32(epbSize)|0x1000), ReadOptions{}, len(ng.b) - epbSize,
			fmt.Sprintf("yet it ends in a trailing length of %d, the bytes it has", epbSize)},
		{"unknown-over-limit", set(set(ng.b, second, 0xBAD), second+4, 0x7ffffff0), ReadOptions{MaxBlock: 256}, second,
			fmt.Sprintf("the custom block claims 2147483632 bytes, %d more than the input has from its start, yet a whole %d-byte enhanced packet block starts %d bytes into it", 2147483632-20*epbSize, epbSize, epbSize)},
		{"pcap-record-inside", set(pc.b, pcSecond+8, 60|0x1000), ReadOptions{}, pcSecond,
			"yet a whole 76-byte record starts 76 bytes into it, and whole records follow it to the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readUntilError(t, tc.in, tc.opts)
			var re *ReadError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || re.Offset != int64(tc.at) || re.Tail != int64(len(tc.in)-tc.at) {
				t.Fatalf("got %v (%+v), want ErrCorrupt at byte %d with a tail of %d bytes", err, re, tc.at, len(tc.in)-tc.at)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestCutEndingInItsLength: a cut that ends in a number equal to the
// bytes the cut block has (interface 12, cut 12 bytes into its packet
// block) is still a cut, not a whole block with a wrong length.
func TestCutEndingInItsLength(t *testing.T) {
	le := binary.LittleEndian
	g := (&ngBuilder{o: le}).shb()
	for range 13 {
		g.idb(LinkTypeEthernet, 0)
	}
	at := len(g.b)
	g.epb(12, 1, frame(60, 1, 2, 0), 60)
	_, err := readUntilError(t, g.b[:at+12], ReadOptions{})
	var re *ReadError
	if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) || re.Offset != int64(at) {
		t.Errorf("got %v, want ErrTruncated at byte %d", err, at)
	}
}

// captureCarrying is a capture of two frames, the second of which carries
// inner (a capture a VM copies over the network, say) 4-byte aligned in
// the pcapng block, as 1 in 4 such frames have it.
func captureCarrying(t *testing.T, format Format, inner []byte) []byte {
	t.Helper()
	carrier := append(frame(16, 1, 2, 0)[:16], inner...) // Ethernet header and 2 bytes: inner starts 44 bytes into its block
	var evs []hub.Event
	for _, f := range [][]byte{frame(60, 1, 2, 1), carrier} {
		evs = append(evs, hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: f})
	}
	return captureOf(t, format, evs)
}

// TestCutFrameCarryingACapture: a capture cut inside a frame that itself
// holds whole pcapng blocks or pcap records is cut, not corrupt: what a
// frame carries says nothing about its block's length, so Repair trims it
// as any cut.
func TestCutFrameCarryingACapture(t *testing.T) {
	for _, format := range []Format{FormatPcapng, FormatPcap} {
		t.Run(format.String(), func(t *testing.T) {
			inner := smallCapture(t, format, 6)
			full := captureCarrying(t, format, inner)
			starts := recordStarts(t, full, format)
			last := starts[len(starts)-1]
			if format == FormatPcapng {
				last = starts[len(starts)-2] // the carrier; the file ends in statistics blocks
			}
			for cut := last + 1; cut < last+int(binary.LittleEndian.Uint32(full[last+4:])); cut++ {
				if format == FormatPcap && cut >= len(full) {
					break
				}
				_, err := readUntilError(t, full[:cut], ReadOptions{})
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut %d bytes into the frame's block: got %v, want ErrTruncated", cut-last, err)
				}
			}
		})
	}
}

// TestCutLargeBlock: a block larger than the block limit, of a type the
// reader skips (a decryption secrets block of thousands of keys, as
// editcap --inject-secrets writes), cut anywhere is cut, not corrupt.
func TestCutLargeBlock(t *testing.T) {
	secrets := bytes.Repeat([]byte("CLIENT_RANDOM 00112233 4455667788\n"), 64) // 2176 bytes
	g := (&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0)
	start := len(g.b)
	full := g.block(blockDSB, append(g.u32(0x544c534b), append(g.u32(uint32(len(secrets))), secrets...)...)).b
	for _, cut := range []int{start + 300, start + 1000, len(full) - 4, len(full) - 1} {
		_, err := readUntilError(t, full[:cut], ReadOptions{MaxBlock: 256})
		var re *ReadError
		if !errors.Is(err, ErrTruncated) || !errors.As(err, &re) || re.Tail != int64(cut-start) {
			t.Errorf("cut %d bytes into the %d-byte block: got %v, want ErrTruncated with a tail of %d", cut-start, len(full)-start, err, cut-start)
		}
	}
	if _, err := readUntilError(t, full, ReadOptions{MaxBlock: 256}); err != nil {
		t.Errorf("the whole file: %v", err)
	}
}
