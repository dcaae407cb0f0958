package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"l2hub/hub"
)

// smallCapture writes n packets of varied sizes, with comments, through a
// Sink in the given format and returns the file's bytes.
func smallCapture(t *testing.T, format Format, n int) []byte {
	t.Helper()
	evs := make([]hub.Event, n)
	for k := range evs {
		evs[k] = killEvent(k, t0)
	}
	return captureOf(t, format, evs)
}

// captureOf writes evs, events of port 0 ("a"), through a Sink in the
// given format and returns the file's bytes.
func captureOf(t *testing.T, format Format, evs []hub.Event) []byte {
	t.Helper()
	fs := newMemFS()
	cfg := memConfig(fs)
	cfg.Format = format
	s := mustOpen(t, cfg)
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a", Description: "test a"})
	for i := range evs {
		s.Observe(&evs[i])
	}
	mustClose(t, s)
	return fs.file(t, cfg.Path)
}

// wholePackets counts the packets that a Reader returns from b before it
// stops, and whether it stopped at the end.
func wholePackets(t *testing.T, b []byte) (n int, clean bool) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), ReadOptions{})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	for _, err := range r.All() {
		if err != nil {
			return n, false
		}
		n++
	}
	return n, true
}

// TestRepairTrimsEveryCut: a capture cut at any byte past its header is
// repaired to exactly the whole packets before the cut, and then reads to
// its end without an error; a whole capture is left as it is.
func TestRepairTrimsEveryCut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		header int // the file header's length (pcapng: the section header's, read from the file)
	}{
		{"pcapng", FormatPcapng, 0},
		{"pcap", FormatPcap, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := smallCapture(t, tc.format, 8)
			all, clean := wholePackets(t, full)
			if all != 8 || !clean {
				t.Fatalf("the test capture has %d packets (clean %v), want 8", all, clean)
			}
			path := tempPath(t, "run."+tc.name)
			start := tc.header
			if tc.format == FormatPcapng {
				// From the end of the section header on: a cut in the
				// interface block leaves a file without packets.
				start = int(binary.LittleEndian.Uint32(full[4:]))
			}
			for cut := start; cut <= len(full); cut++ {
				if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
					t.Fatal(err)
				}
				want, _ := wholePackets(t, full[:cut])
				rep, err := Repair(path)
				if err != nil {
					t.Fatalf("Repair of the first %d bytes: %v", cut, err)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				n, clean := wholePackets(t, got)
				if !clean || n != want || rep.Packets != want || !bytes.Equal(got, full[:len(got)]) || rep.Kept != int64(len(got)) {
					t.Fatalf("cut at %d: repaired to %d bytes, %d packets (clean %v, report %+v); want the %d whole packets before the cut", cut, len(got), n, clean, rep, want)
				}
				if rep.Trimmed() != (len(got) < cut) || cut == len(full) && rep.Trimmed() {
					t.Fatalf("cut at %d: report %+v says trimmed=%v, file went from %d to %d bytes", cut, rep, rep.Trimmed(), cut, len(got))
				}
			}
		})
	}
}

// TestRepairLeavesOtherDamage: a file corrupt before its end, or not a
// capture, is not touched, and the error says why.
func TestRepairLeavesOtherDamage(t *testing.T) {
	full := smallCapture(t, FormatPcapng, 8)
	r, _ := NewReader(bytes.NewReader(full), ReadOptions{})
	var third Packet
	for range 3 {
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		third = p
	}
	corrupt := bytes.Clone(full)
	copy(corrupt[third.Offset+4:], []byte{0xfd, 0xff, 0xff, 0x7f})
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"corrupt-block", corrupt, ErrCorrupt},
		{"not-a-capture", []byte("hello, this is not a capture at all"), ErrUnknownFormat},
		{"cut-in-header", full[:10], ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t, "x.pcapng")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Repair(path); !errors.Is(err, tc.want) {
				t.Errorf("Repair = %v, want %v", err, tc.want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.data) {
				t.Errorf("Repair changed a file it refused: %d bytes, was %d", len(got), len(tc.data))
			}
		})
	}
}

// auditCapture is the file an audit found Repair destroying: a section
// header, an interface, one packet, then a second packet whose header
// block the caller breaks, then 5000 whole packets (380 KB). It returns
// the file and the second packet's offset.
func auditCapture() ([]byte, int) {
	g := (&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0)
	g.epb(0, 1, frame(60, 1, 2, 1), 60)
	second := len(g.b)
	for k := range 5001 {
		g.epb(0, uint64(2+k), frame(60, 1, 2, 2+k), 60)
	}
	return g.b, second
}

// TestRepairRefusesAWrongLength: a block whose length field is wrong, so
// that it runs past the end of the file over thousands of whole packets,
// is not a cut tail: Repair must refuse it, say where, and change
// nothing, rather than trim the packets after it away.
func TestRepairRefusesAWrongLength(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name    string
		corrupt func(b []byte, at int)
	}{
		{"length-bit-flipped", func(b []byte, at int) { le.PutUint32(b[at+4:], le.Uint32(b[at+4:])|0x80000) }},
		{"unknown-block-2GiB", func(b []byte, at int) {
			le.PutUint32(b[at:], 0xBAD)
			le.PutUint32(b[at+4:], 0x7ffffff0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, at := auditCapture()
			tc.corrupt(data, at)
			path := tempPath(t, "run.pcapng")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Repair(path)
			var re *ReadError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || re.Offset != int64(at) {
				t.Fatalf("Repair = %+v, %v; want ErrCorrupt at byte %d", rep, err, at)
			}
			if want := fmt.Sprintf("at byte %d", at); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("Repair error %q, want it to say %q and that nothing was changed", err, want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Errorf("Repair changed a file it refused: %d bytes, was %d", len(got), len(data))
			}
		})
	}
}

// TestRepairReportString: what capture repair says of a file it trimmed
// and of one it left as it was.
func TestRepairReportString(t *testing.T) {
	for _, tt := range []struct {
		r    RepairReport
		want string
	}{
		{RepairReport{Packets: 3, Size: 250, Kept: 200}, "trimmed a cut last block (50 bytes); 3 whole frames, 200 bytes"},
		{RepairReport{Packets: 3, Size: 200, Kept: 200}, "nothing to repair; 3 whole frames"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("got %+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}
