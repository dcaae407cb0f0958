package capture

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the goldens in testdata")

// TestGolden pins the bytes of a small run (see scenario) in both formats.
// Regenerate with: go test ./capture -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format Format
	}{
		{"scenario.pcapng", FormatPcapng},
		{"scenario.pcap", FormatPcap},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			got := captureScenario(t, func(cfg *Config) { cfg.Format, cfg.Snaplen = tc.format, 128 })
			checkGolden(t, tc.file, got, tc.format)
		})
	}
}

// checkGolden compares got with the golden testdata/name, a capture in
// format, and rewrites it instead with -update.
func checkGolden(t *testing.T, name string, got []byte, format Format) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("capture differs from %s (run with -update if the change is intended):\n%s",
			path, diffCaptures(got, want, format))
	}
}

// TestGoldenRepeatable writes the same run twice, through different batch
// sizes, and expects the same bytes.
func TestGoldenRepeatable(t *testing.T) {
	var files [][]byte
	for _, batch := range []int{64, 1 << 20} {
		files = append(files, captureScenario(t, func(cfg *Config) { cfg.BatchBytes = batch }))
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Errorf("same events, different bytes:\n%s", diffCaptures(files[0], files[1], FormatPcapng))
	}
}

// diffCaptures describes the first block (or record) where got and want
// differ, decoded.
func diffCaptures(got, want []byte, format Format) string {
	split := splitBlocks
	if format != FormatPcapng {
		split = splitPcap
	}
	gb, gerr := split(got)
	wb, werr := split(want)
	var b strings.Builder
	if gerr != nil {
		fmt.Fprintf(&b, "got: %v\n", gerr)
	}
	if werr != nil {
		fmt.Fprintf(&b, "want: %v\n", werr)
	}
	for i := 0; i < max(len(gb), len(wb)); i++ {
		if i < len(gb) && i < len(wb) && bytes.Equal(gb[i], wb[i]) {
			continue
		}
		fmt.Fprintf(&b, "first difference in block %d (got %d blocks, want %d)\n", i, len(gb), len(wb))
		for _, side := range []struct {
			name   string
			blocks [][]byte
		}{{"got ", gb}, {"want", wb}} {
			if i < len(side.blocks) {
				fmt.Fprintf(&b, "%s: %s\n", side.name, describeBlock(side.blocks[i], format))
			} else {
				fmt.Fprintf(&b, "%s: (no block)\n", side.name)
			}
		}
		return b.String()
	}
	return b.String() + "no differing block found"
}

// splitBlocks cuts little-endian pcapng into blocks; it fails on a cut block.
func splitBlocks(b []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return out, fmt.Errorf("block header cut at byte %d", off)
		}
		n := int(le.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || n > len(b)-off {
			return out, fmt.Errorf("block at byte %d: length %d with %d bytes left", off, n, len(b)-off)
		}
		if t := int(le.Uint32(b[off+n-4:])); t != n {
			return out, fmt.Errorf("block at byte %d: length %d, trailing %d", off, n, t)
		}
		out = append(out, b[off:off+n])
		off += n
	}
	return out, nil
}

// splitPcap cuts a little-endian pcap file into its header and records.
func splitPcap(b []byte) ([][]byte, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("file header cut")
	}
	out := [][]byte{b[:24]}
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			return out, fmt.Errorf("record header cut at byte %d", off)
		}
		n := 16 + int(le.Uint32(b[off+8:]))
		if n > len(b)-off {
			return out, fmt.Errorf("record at byte %d cut", off)
		}
		out = append(out, b[off:off+n])
		off += n
	}
	return out, nil
}

// describeBlock decodes one block for a person.
func describeBlock(b []byte, format Format) string {
	if format != FormatPcapng {
		if len(b) == 24 {
			return fmt.Sprintf("pcap header magic %#x version %d.%d snaplen %d linktype %d",
				le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint32(b[16:]), le.Uint32(b[20:]))
		}
		return fmt.Sprintf("pcap record ts %d.%09d caplen %d origlen %d data %x",
			le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:]), b[16:])
	}
	typ, body := le.Uint32(b), b[8:len(b)-4]
	var s string
	var opts []byte
	var names map[uint16]string
	switch typ {
	case blockSHB:
		s = fmt.Sprintf("SHB len %d magic %#x version %d.%d", len(b), le.Uint32(body), le.Uint16(body[4:]), le.Uint16(body[6:]))
		opts, names = body[16:], map[uint16]string{1: "comment", 2: "hardware", 3: "os", 4: "userappl"}
	case blockIDB:
		s = fmt.Sprintf("IDB len %d linktype %d snaplen %d", len(b), le.Uint16(body), le.Uint32(body[4:]))
		opts, names = body[8:], map[uint16]string{1: "comment", 2: "name", 3: "description", 9: "tsresol"}
	case blockEPB:
		capLen := int(le.Uint32(body[12:]))
		s = fmt.Sprintf("EPB len %d interface %d ts %d caplen %d origlen %d data %x", len(b),
			le.Uint32(body), uint64(le.Uint32(body[4:]))<<32|uint64(le.Uint32(body[8:])), capLen, le.Uint32(body[16:]), body[20:20+capLen])
		opts, names = body[20+capLen+pad4(capLen):], map[uint16]string{1: "comment", 2: "flags"}
	default:
		return fmt.Sprintf("block type %#x len %d body %x", typ, len(b), body)
	}
	for len(opts) >= 4 {
		code, n := le.Uint16(opts), int(le.Uint16(opts[2:]))
		if code == 0 || 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		if code == 9 || code == 2 && typ == blockEPB {
			s += fmt.Sprintf(" %s=%x", names[code], v)
		} else {
			s += fmt.Sprintf(" %s=%q", cmpOrName(names[code], code), v)
		}
		opts = opts[4+n+pad4(n):]
	}
	return s
}

func cmpOrName(name string, code uint16) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("opt%d", code)
}
