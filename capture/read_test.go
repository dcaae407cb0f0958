package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

var orders = []struct {
	name string
	o    byteOrder
}{{"le", binary.LittleEndian}, {"be", binary.BigEndian}}

func TestReadPcap(t *testing.T) {
	d1, d2 := frame(60, 1, 2, 1), frame(1514, 2, 1, 2)
	for _, bo := range orders {
		for _, nano := range []bool{false, true} {
			name := bo.name + "-usec"
			frac, want2 := uint32(123456), time.Unix(1700000001, 123456000).UTC()
			if nano {
				name = bo.name + "-nsec"
				frac, want2 = 123456789, time.Unix(1700000001, 123456789).UTC()
			}
			t.Run(name, func(t *testing.T) {
				b := newPcap(bo.o, nano, 262144, 1).rec(1700000000, 0, d1, 60).rec(1700000001, frac, d2[:100], 1514).b
				got, r := readAll(t, b)
				wantFormat := FormatPcap
				if nano {
					wantFormat = FormatPcapNano
				}
				if r.Format() != wantFormat {
					t.Errorf("got Format() = %v, want %v", r.Format(), wantFormat)
				}
				if len(got) != 2 {
					t.Fatalf("got %d packets, want 2", len(got))
				}
				for i, w := range []struct {
					at      time.Time
					data    []byte
					origLen int
					offset  int64
				}{
					{time.Unix(1700000000, 0).UTC(), d1, 60, 24},
					{want2, d2[:100], 1514, 24 + 16 + 60},
				} {
					p := got[i]
					if !p.Time.Equal(w.at) || !bytes.Equal(p.Data, w.data) || p.OrigLen != w.origLen ||
						p.Offset != w.offset || p.Number != i+1 || p.LinkType != LinkTypeEthernet || p.Dir != DirUnknown {
						t.Errorf("packet %d: got %+v, want time %v, %d of %d bytes at offset %d", i+1, p, w.at, len(w.data), w.origLen, w.offset)
					}
				}
			})
		}
	}
}

// TestReadQemuAndTcpdump reads files laid out as QEMU's filter-dump
// (net/dump.c: little-endian, microseconds, version 2.4, snaplen = maxlen
// 65536, linktype 1) and tcpdump -w (snaplen 262144) write them.
func TestReadQemuAndTcpdump(t *testing.T) {
	f := frame(342, 1, 0xff, 9) // a DHCP-sized frame
	for _, tc := range []struct {
		name    string
		snaplen uint32
		network uint32
		want    LinkType
	}{
		{"qemu-filter-dump", 65536, 1, LinkTypeEthernet},
		{"tcpdump", 262144, 1, LinkTypeEthernet},
		{"tcpdump-any", 262144, 113, LinkTypeLinuxSLL},
		{"fcs-bits", 65536, 1<<28 | 4<<29 | 1, LinkTypeEthernet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newPcap(binary.LittleEndian, false, tc.snaplen, tc.network).rec(1767225600, 999999, f, 342).b
			got, r := readAll(t, b)
			if len(got) != 1 || !bytes.Equal(got[0].Data, f) || got[0].LinkType != tc.want ||
				!got[0].Time.Equal(time.Unix(1767225600, 999999000)) {
				t.Errorf("got %+v, want one %v frame of 342 bytes", got, tc.want)
			}
			if ifs := r.Interfaces(); len(ifs) != 1 || ifs[0].Snaplen != int(tc.snaplen) || ifs[0].LinkType != tc.want {
				t.Errorf("got Interfaces() = %+v, want snaplen %d, %v", ifs, tc.snaplen, tc.want)
			}
		})
	}
}

func TestReadPcapng(t *testing.T) {
	d := [6][]byte{}
	for i := range d {
		d[i] = frame(60+i*7, 1, 2, i)
	}
	for _, bo := range orders {
		t.Run(bo.name, func(t *testing.T) {
			g := &ngBuilder{o: bo.o}
			g.shb(opt{optComment, []byte("first")}, opt{optHardware, []byte("hw")}, opt{optOS, []byte("os")}, opt{optUserAppl, []byte("app")})
			g.idb(LinkTypeEthernet, 0, opt{optIfName, []byte("eth0")}, opt{optIfDescr, []byte("first nic")}) // microseconds by default
			g.block(blockNRB, []byte{0, 0, 0, 0})                                                            // skipped
			g.epb(0, 1_700_000_000_123_456, d[0], 60, opt{optFlags, g.u32(flagsInbound | 1<<2)},
				opt{optComment, []byte("one")}, opt{optComment, []byte("two")}, opt{99, []byte("unknown option")})
			g.idb(LinkTypeRaw, 128, opt{optIfName, []byte("tun0")}, opt{optIfTsresol, []byte{3}}, opt{optIfTsoff, g.u64(100)})
			g.block(blockISB, make([]byte, 12)) // skipped
			// Statistics whose option overruns the block: passed over, as
			// another writer's may be.
			g.block(blockISB, append(make([]byte, 12), g.o.AppendUint16(g.o.AppendUint16(nil, optComment), 200)...))
			g.block(0x40000BAD, []byte("custom block")) // a record, though not a packet
			g.epb(1, 1_700_000_000_123, d[1], 1000, opt{optFlags, g.u32(flagsOutbound)})
			g.spb(67, d[2][:67])
			g.opb(0, 5_000_001, d[3], 81, opt{optFlags, g.u32(flagsOutbound)}, opt{optComment, []byte("old")})
			// Second section: interfaces start again.
			g.shb(opt{optComment, []byte("second")})
			g.idb(LinkTypeEthernet, 65536, opt{optIfName, []byte("bin")}, opt{optIfTsresol, []byte{0x80 | 10}})
			g.idb(LinkTypeEthernet, 65536, opt{optIfName, []byte("pico")}, opt{optIfTsresol, []byte{12}})
			g.epb(0, 3<<10|512, d[4], 88)                 // 3.5 s in 2^-10 units
			g.epb(1, 1_000_000_000_000_123_456, d[5], 95) // picoseconds
			// A Sink's trailer: its statistics comment, then the notes no
			// frame followed.
			g.block(blockISB, append(make([]byte, 12), g.opts(opt{optComment, []byte("l2hub port bin: ...")},
				opt{optComment, []byte(trailerPrefix + "control at 9s: link bin down")})...))
			g.block(blockISB, append(g.o.AppendUint32(nil, 1), append(make([]byte, 8), g.opts(opt{optComment, []byte("l2hub port pico: ...")})...)...))

			var stats []string
			r, err := NewReader(bytes.NewReader(g.b), ReadOptions{Statistics: func(section, iface int, comments []string) {
				stats = append(stats, fmt.Sprintf("%d/%d %q", section, iface, comments))
			}})
			if err != nil {
				t.Fatalf("NewReader() = %v", err)
			}
			if s := r.Section(); s != (Section{Comment: "first", Hardware: "hw", OS: "os", UserAppl: "app"}) {
				t.Errorf("got Section() = %+v", s)
			}
			type want struct {
				section, iface int
				name           string
				lt             LinkType
				at             time.Time
				data           []byte
				origLen        int
				dir            Dir
				comment        string
			}
			wants := []want{
				{0, 0, "eth0", LinkTypeEthernet, time.Unix(1_700_000_000, 123_456_000), d[0], 60, DirIn, "one\ntwo"},
				{0, 0, "", LinkTypeNotPacket, time.Time{}, []byte("custom block"), 12, DirUnknown, ""},
				{0, 1, "tun0", LinkTypeRaw, time.Unix(1_700_000_000+100, 123_000_000), d[1], 1000, DirOut, ""},
				{0, 0, "eth0", LinkTypeEthernet, time.Time{}, d[2][:67], 67, DirUnknown, ""},
				{0, 0, "eth0", LinkTypeEthernet, time.Unix(5, 1000), d[3], 81, DirOut, "old"},
				{1, 0, "bin", LinkTypeEthernet, time.Unix(3, 500_000_000), d[4], 88, DirUnknown, ""},
				{1, 1, "pico", LinkTypeEthernet, time.Unix(1_000_000, 123), d[5], 95, DirUnknown, ""},
			}
			for i, w := range wants {
				p, err := r.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i+1, err)
				}
				if p.Section != w.section || p.Interface != w.iface || p.IfName != w.name || p.LinkType != w.lt ||
					!p.Time.Equal(w.at) || !bytes.Equal(p.Data, w.data) || p.OrigLen != w.origLen || p.Dir != w.dir ||
					p.Comment != w.comment || p.Number != i+1 {
					t.Errorf("packet %d: got %+v\nwant %+v", i+1, p, w)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last packet: got %v, want io.EOF", err)
			}
			if want := []string{`0/0 []`, `0/0 []`, `1/0 ["l2hub port bin: ..." "` + strings.ReplaceAll(trailerPrefix, "\n", `\n`) + `control at 9s: link bin down"]`, `1/1 ["l2hub port pico: ..."]`}; fmt.Sprint(stats) != fmt.Sprint(want) {
				t.Errorf("got Statistics calls %q, want %q", stats, want)
			}
			if got := r.Trailer(); got != "control at 9s: link bin down" {
				t.Errorf("got Trailer() = %q, want the statistics' second comment without its prefix", got)
			}
			if s := r.Section(); s.Comment != "second" {
				t.Errorf("got Section().Comment = %q in the second section", s.Comment)
			}
			if ifs := r.Interfaces(); len(ifs) != 2 || ifs[0].Name != "bin" || ifs[1].Name != "pico" {
				t.Errorf("got Interfaces() = %+v, want the second section's bin and pico", ifs)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	le := binary.LittleEndian
	f := frame(60, 1, 2, 0)
	pcap2 := newPcap(le, false, 65536, 1).rec(1, 0, f, 60).rec(2, 0, f, 60).b
	ng := func() *ngBuilder { return (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0) }
	ng1 := ng().epb(0, 1, f, 60)
	ng1Len := int64(len(ng1.b))
	epbLenTest := int64(len((&ngBuilder{o: le}).epb(0, 1, f, 60).b))
	hdrLen := int64(len(ng().b))

	for _, tc := range []struct {
		name      string
		in        []byte
		opts      ReadOptions
		packets   int // read before the error
		sentinel  error
		offset    int64
		errSubstr string
	}{
		{"empty", nil, ReadOptions{}, 0, ErrTruncated, 0, "input has 0"},
		{"not-a-capture", []byte("MZ\x90\x00rest of an exe"), ReadOptions{}, 0, ErrUnknownFormat, 0, "4d 5a 90 00"},
		{"pcap-header-cut", pcap2[:10], ReadOptions{}, 0, ErrTruncated, 0, "pcap file header"},
		{"pcap-version", func() []byte { b := bytes.Clone(pcap2); b[4] = 1; return b }(), ReadOptions{}, 0, ErrCorrupt, 0, "version 1.4"},
		{"pcap-record-cut", pcap2[:len(pcap2)-10], ReadOptions{}, 1, ErrTruncated, 24 + 76, "ends 66 bytes into the 76-byte pcap record"},
		{"pcap-record-header-cut", pcap2[:24+76+5], ReadOptions{}, 1, ErrTruncated, 24 + 76, "pcap record header"},
		{"pcap-huge-record", newPcap(le, false, 65536, 1).rec(1, 0, f, 60).rec(2, 0, nil, 0).b[:24+76+16], ReadOptions{MaxBlock: 1}, 0, ErrCorrupt, 24, "exceeds the 1-byte limit"},
		{"pcap-link-type", newPcap(le, false, 65536, 113).rec(1, 0, f, 60).b, ReadOptions{LinkTypes: []LinkType{LinkTypeEthernet}}, 0, ErrLinkType, 24, "LINUX_SLL (113)"},
		{"pcapng-link-type", (&ngBuilder{o: le}).shb().idb(276, 0).epb(0, 1, f, 60).b, ReadOptions{LinkTypes: []LinkType{LinkTypeEthernet}}, 0, ErrLinkType, hdrLen, "LINUX_SLL2 (276)"},
		{"pcapng-shb-cut", ng1.b[:20], ReadOptions{}, 0, ErrTruncated, 0, "section header"},
		{"pcapng-byte-order", func() []byte { b := bytes.Clone(ng1.b); b[8] = 0; return b }(), ReadOptions{}, 0, ErrCorrupt, 0, "byte-order magic"},
		{"pcapng-version", func() []byte { b := bytes.Clone(ng1.b); b[12] = 2; return b }(), ReadOptions{}, 0, ErrCorrupt, 0, "version 2.0"},
		{"pcapng-epb-cut", ng().epb(0, 1, f, 60).epb(0, 2, f, 60).b[:ng1Len+40], ReadOptions{}, 1, ErrTruncated, ng1Len, "enhanced packet block"},
		{"pcapng-header-cut", ng().epb(0, 1, f, 60).epb(0, 2, f, 60).b[:ng1Len+5], ReadOptions{}, 1, ErrTruncated, ng1Len, "block header"},
		{"pcapng-length-not-aligned", func() []byte { b := bytes.Clone(ng1.b); le.PutUint32(b[hdrLen+4:], uint32(epbLenTest+2)); return b }(), ReadOptions{}, 0, ErrCorrupt, hdrLen, "has length"},
		// A block whose leading and trailing lengths agree on a length
		// that is not a multiple of 4, which Wireshark refuses too.
		{"pcapng-length-not-aligned-both", func() []byte {
			b := le.AppendUint32(le.AppendUint32(ng1.Clone().b, blockNRB), 37)
			return le.AppendUint32(append(b, make([]byte, 37-12)...), 37)
		}(), ReadOptions{}, 1, ErrCorrupt, ng1Len, "has length 37"},
		{"pcapng-length-huge", func() []byte { b := bytes.Clone(ng1.b); le.PutUint32(b[hdrLen+4:], 0xfffffff0); return b }(), ReadOptions{}, 0, ErrCorrupt, hdrLen, "exceeds the 1048576-byte limit"},
		{"pcapng-trailer", func() []byte { b := bytes.Clone(ng1.b); b[len(b)-4]++; return b }(), ReadOptions{}, 0, ErrCorrupt, hdrLen, "trailing length"},
		{"pcapng-no-interface", ng().epb(3, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, hdrLen, "interface 3; the section describes 1"},
		{"pcapng-spb-first", (&ngBuilder{o: le}).shb().spb(60, f).b, ReadOptions{}, 0, ErrCorrupt, 28, "before any interface"},
		{"pcapng-caplen", func() []byte { b := bytes.Clone(ng1.b); le.PutUint32(b[hdrLen+20:], 1000); return b }(), ReadOptions{}, 0, ErrCorrupt, hdrLen, "captured length 1000 overruns"},
		// One byte past the frame's 60 is the block's trailing length,
		// which must not be read as the frame's last byte.
		{"pcapng-caplen-one-over", func() []byte { b := bytes.Clone(ng1.b); le.PutUint32(b[hdrLen+20:], 61); return b }(), ReadOptions{}, 0, ErrCorrupt, hdrLen, "captured length 61 overruns the 92-byte enhanced packet block"},
		// A section header whose lengths agree on one that is not a
		// multiple of 4, which Wireshark refuses too.
		{"pcapng-shb-length-not-aligned", func() []byte {
			b := le.AppendUint32(le.AppendUint32(nil, blockSHB), 29)
			b = le.AppendUint64(le.AppendUint16(le.AppendUint16(le.AppendUint32(b, byteOrderMagic), 1), 0), ^uint64(0))
			return le.AppendUint32(append(b, 0), 29)
		}(), ReadOptions{}, 0, ErrCorrupt, 0, "section header length 29"},
		{"pcapng-tsoffset-longer-than-8", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0, opt{optIfTsoff, make([]byte, 12)}).epb(0, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, 28, "if_tsoffset of 12 bytes"},
		{"pcapng-one-interface-too-many", manyInterfaces(maxInterfaces+1).epb(0, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, 28 + maxInterfaces*20, fmt.Sprintf("more than %d interfaces in a section", maxInterfaces)},
		{"pcapng-tsresol", (&ngBuilder{o: le}).shb().idb(1, 0, opt{optIfTsresol, []byte{80}}).b, ReadOptions{}, 0, ErrCorrupt, 28, "if_tsresol"},
		// The finest resolutions 64-bit timestamps cannot hold, just past
		// 10^-19 and 2^-63: refused at the description, not a panic at
		// the first packet's timestamp.
		{"pcapng-tsresol-decimal-20", (&ngBuilder{o: le}).shb().idb(1, 0, opt{optIfTsresol, []byte{20}}).epb(0, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, 28, "if_tsresol 0x14"},
		{"pcapng-tsresol-binary-64", (&ngBuilder{o: le}).shb().idb(1, 0, opt{optIfTsresol, []byte{0xc0}}).epb(0, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, 28, "if_tsresol 0xc0"},
		// Interface IDs count from 0: the ID equal to the number of
		// interfaces is the first one past them, not a panic.
		{"pcapng-iface-id-equals-count", ng().epb(1, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, hdrLen, "interface 1; the section describes 1"},
		{"pcapng-opb-iface-id-equals-count", ng().opb(1, 1, f, 60).b, ReadOptions{}, 0, ErrCorrupt, hdrLen, "interface 1; the section describes 1"},
		{"pcapng-huge-unknown-block", append(ng1.Clone().b, le.AppendUint32(le.AppendUint32(nil, 0x0bad), 0xfffffff0)...), ReadOptions{}, 1, ErrTruncated, ng1Len, "4294967280-byte custom block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			var err error
			r, err := NewReader(bytes.NewReader(tc.in), tc.opts)
			if err == nil {
				for {
					_, err = r.Next()
					if err != nil {
						break
					}
					n++
				}
				if _, again := r.Next(); again != err {
					t.Errorf("Next after the error: got %v, want the same error again", again)
				}
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
				t.Errorf("reading allocated %d bytes, want a bounded amount", grew)
			}
			if n != tc.packets {
				t.Errorf("got %d packets before the error, want %d", n, tc.packets)
			}
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("got error %v (%T), want a *ReadError", err, err)
			}
			if !errors.Is(err, tc.sentinel) || re.Packet != tc.packets+1 || re.Offset != tc.offset ||
				!strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("got %q (packet %d, offset %d), want %v for packet %d at byte %d mentioning %q",
					err, re.Packet, re.Offset, tc.sentinel, tc.packets+1, tc.offset, tc.errSubstr)
			}
			if want := fmt.Sprintf("packet %d at byte %d: ", tc.packets+1, tc.offset); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want it to start %q", err, want)
			}
		})
	}
}

// TestReadLengthClamps: a record never reports more data than its
// interface's snaplen allows, nor an original length short of the data.
func TestReadLengthClamps(t *testing.T) {
	le := binary.LittleEndian
	f := frame(100, 1, 2, 0)
	for _, tc := range []struct {
		name          string
		in            []byte
		data, origLen int
	}{
		// A Simple Packet Block has no captured length: its data is what
		// fits under the snaplen, not the block's padding after it.
		{"spb-cut-by-snaplen", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 61).spb(100, f[:61]).b, 61, 100},
		{"spb-no-snaplen", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0).spb(100, f[:61]).b, 64, 100},
		{"spb-whole", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 61).spb(60, f[:60]).b, 60, 60},
		// Some writers leave the original length 0, or below the
		// captured one: it is at least what was captured.
		{"pcap-orig-zero", newPcap(le, false, 65536, 1).rec(1, 0, f, 0).b, 100, 100},
		{"pcap-orig-short", newPcap(le, false, 65536, 1).rec(1, 0, f, 60).b, 100, 100},
		{"pcap-orig-long", newPcap(le, false, 65536, 1).rec(1, 0, f[:60], 100).b, 60, 100},
		{"epb-orig-zero", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0).epb(0, 1, f, 0).b, 100, 100},
		{"opb-orig-short", (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0).opb(0, 1, f, 60).b, 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := readAll(t, tc.in)
			if len(got) != 1 {
				t.Fatalf("got %d packets, want 1", len(got))
			}
			if p := got[0]; len(p.Data) != tc.data || p.OrigLen != tc.origLen {
				t.Errorf("got %d bytes of data, original length %d; want %d, %d", len(p.Data), p.OrigLen, tc.data, tc.origLen)
			}
		})
	}
}

func (g *ngBuilder) Clone() *ngBuilder { return &ngBuilder{o: g.o, b: bytes.Clone(g.b)} }

// manyInterfaces is a section describing n Ethernet interfaces.
func manyInterfaces(n int) *ngBuilder {
	g := (&ngBuilder{o: binary.LittleEndian}).shb()
	for range n {
		g.idb(LinkTypeEthernet, 0)
	}
	return g
}

func TestReadInterfaceLimitHolds(t *testing.T) {
	got, _ := readAll(t, manyInterfaces(maxInterfaces).epb(maxInterfaces-1, 1, frame(60, 1, 2, 0), 60).b)
	if len(got) != 1 || got[0].Interface != maxInterfaces-1 {
		t.Errorf("read %d packets (%+v), want 1 on interface %d", len(got), got, maxInterfaces-1)
	}
}

// An option whose length runs past its block is corrupt, by far or by
// less than an option header: its value would take in the trailing
// length.
func TestReadOptionOverrun(t *testing.T) {
	for _, claim := range []uint16{200, 10} { // 8 bytes follow the header: "abcd" and end-of-options
		t.Run(fmt.Sprint(claim), func(t *testing.T) {
			g := (&ngBuilder{o: binary.LittleEndian}).shb().idb(LinkTypeEthernet, 0)
			at := len(g.b)
			g.epb(0, 1, frame(60, 1, 2, 0), 60, opt{optComment, []byte("abcd")})
			binary.LittleEndian.PutUint16(g.b[at+28+60+2:], claim)
			r, err := NewReader(bytes.NewReader(g.b), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Next()
			if want := fmt.Sprintf("option 1 of %d bytes overruns its block (8 left)", claim); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Errorf("got %q, %v, want ErrCorrupt: %s", p.Comment, err, want)
			}
		})
	}
}

func TestMeta(t *testing.T) {
	m := testMeta
	m.Extra = map[string]string{"mode": "switch", "ports": "a,b"}
	c := m.comment(PointsIngress, 3, 2, "vm0")
	want := "l2hub capture\nversion=v0.0.0-test\nseed=42\nconfig=sha256:c0ffee\npolicy=sha256:beef\n" +
		"start=2026-01-01T00:00:00Z\npoints=ingress\npart=3\nmeta-part=2\nport=vm0\nmode=switch\nports=a,b"
	if c != want {
		t.Errorf("got comment\n%s\nwant\n%s", c, want)
	}
	fm, err := ParseMeta(c)
	if err != nil {
		t.Fatalf("ParseMeta() = %v", err)
	}
	if fm.Version != m.Version || fm.Seed != m.Seed || fm.ConfigHash != m.ConfigHash || fm.PolicyHash != m.PolicyHash ||
		!fm.Start.Equal(m.Start) || fmt.Sprint(fm.Extra) != fmt.Sprint(m.Extra) || fm.Points != PointsIngress || fm.Part != 3 || fm.MetaPart != 2 || fm.Port != "vm0" {
		t.Errorf("got ParseMeta() = %+v, want %+v", fm, m)
	}
	// Part 0 starts its Meta and says nothing more; a later part that
	// does not say (a capture from before meta-part) is -1, not known.
	for _, tc := range []struct {
		part, want int
	}{{0, 0}, {3, -1}} {
		c := "l2hub capture\nversion=v\npart=" + fmt.Sprint(tc.part)
		if fm, err := ParseMeta(c); err != nil || fm.MetaPart != tc.want {
			t.Errorf("ParseMeta(%q): got MetaPart %d (%v), want %d", c, fm.MetaPart, err, tc.want)
		}
	}
	if c := m.comment(PointsIngress, 0, 0, ""); strings.Contains(c, "meta-part") {
		t.Errorf("part 0's comment %q has meta-part, which golden captures lack", c)
	}
	for _, bad := range []string{"", "written by dumpcap", "l2hub capture\nseed=x", "l2hub capture\nnokey", "l2hub capture\npoints=sideways"} {
		if _, err := ParseMeta(bad); err == nil {
			t.Errorf("ParseMeta(%q) = nil error, want one", bad)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	fs := newMemFS()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no-path", func(c *Config) { c.Path = "" }, "no path"},
		{"snaplen", func(c *Config) { c.Snaplen = MaxSnaplen + 1 }, "snaplen 262145 is outside"},
		{"rotation", func(c *Config) { c.RotateBytes = -1 }, "negative rotation"},
		{"format", func(c *Config) { c.Format = 9 }, "unknown format"},
		{"meta-lines", func(c *Config) { c.Meta.Version = "v1\nseed=7" }, "spans lines"},
		{"meta-key", func(c *Config) { c.Meta.Extra = map[string]string{"seed": "7"} }, `meta key "seed"`},
		{"per-port-dir", func(c *Config) { c.PerPort = true; c.Path = "/nonexistent-dir/run.pcapng" }, "no such file"},
		{"create", func(c *Config) {
			c.Create = func(string) (io.WriteCloser, error) { return nil, errors.New("permission denied") }
		}, "capture /mem/run.pcapng: permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := memConfig(fs)
			tc.edit(&cfg)
			s, err := Open(cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open() = nil error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got Open() = %q, want it to mention %q", err, tc.want)
			}
		})
	}
	for _, s := range []string{"pcapng", "pcap", "pcap-ns"} {
		if f, err := ParseFormat(s); err != nil || f.String() != s {
			t.Errorf("got ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("erf"); err == nil {
		t.Errorf("ParseFormat(\"erf\") = nil error")
	}
	if FormatForPath("x/run.PCAP") != FormatPcap || FormatForPath("run.pcapng") != FormatPcapng {
		t.Errorf("FormatForPath chose wrongly")
	}
}

// TestTimestampRange: a timestamp is read into the time it says, up to
// the times a nanosecond count from 1970 holds (UnixNano, which replay,
// check and report use); beyond them, or with a fraction of a second that
// is not one, reading stops with ErrCorrupt at the packet, never with a
// time that wrapped around.
func TestTimestampRange(t *testing.T) {
	le := binary.LittleEndian
	f := frame(60, 1, 2, 0)
	// ng returns a pcapng file of one packet, and the packet's offset.
	ng := func(ts uint64, idbOpts ...opt) ([]byte, int64) {
		g := (&ngBuilder{o: le}).shb().idb(LinkTypeEthernet, 0, idbOpts...)
		at := len(g.b)
		return g.epb(0, ts, f, 60).b, int64(at)
	}
	resol := func(v byte) opt { return opt{optIfTsresol, []byte{v}} }
	offset := func(s int64) opt { return opt{optIfTsoff, le.AppendUint64(nil, uint64(s))} }
	pcap := func(nano bool, frac uint32) ([]byte, int64) {
		return newPcap(le, nano, 65536, 1).rec(1_700_000_000, frac, f, 60).b, 24
	}
	last := time.Unix(0, math.MaxInt64).UTC()
	first := time.Unix(-9223372036, 0).UTC()
	for _, tc := range []struct {
		name string
		in   func() ([]byte, int64)
		want time.Time // zero: ErrCorrupt
	}{
		{"binary-seconds-max", func() ([]byte, int64) { return ng(math.MaxUint64, resol(0x80)) }, time.Time{}},
		{"binary-seconds-past-2262", func() ([]byte, int64) { return ng(uint64(last.Unix())+1, resol(0x80)) }, time.Time{}},
		{"binary-seconds-2262", func() ([]byte, int64) { return ng(uint64(last.Unix()), resol(0x80)) }, last.Truncate(time.Second)},
		{"decimal-seconds-max", func() ([]byte, int64) { return ng(math.MaxUint64, resol(0)) }, time.Time{}},
		{"nanoseconds-max", func() ([]byte, int64) { return ng(math.MaxUint64, resol(9)) }, time.Time{}},
		{"nanoseconds-to-the-last", func() ([]byte, int64) { return ng(math.MaxInt64, resol(9)) }, last},
		// The finest resolutions a reader accepts, 10^-19 and 2^-63 s.
		{"decimal-resolution-finest", func() ([]byte, int64) { return ng(math.MaxUint64, resol(19)) }, time.Unix(1, 844_674_407).UTC()},
		{"binary-resolution-finest", func() ([]byte, int64) { return ng(math.MaxUint64, resol(0x80|63)) }, time.Unix(1, 999_999_999).UTC()},
		{"offset-max", func() ([]byte, int64) { return ng(1, offset(math.MaxInt64)) }, time.Time{}},
		{"offset-past-2262", func() ([]byte, int64) { return ng(0, offset(last.Unix()+1)) }, time.Time{}},
		{"offset-to-the-last-nanosecond", func() ([]byte, int64) { return ng(854775807, resol(9), offset(last.Unix())) }, last},
		{"offset-past-the-last-nanosecond", func() ([]byte, int64) { return ng(854775808, resol(9), offset(last.Unix())) }, time.Time{}},
		{"offset-min", func() ([]byte, int64) { return ng(0, offset(math.MinInt64)) }, time.Time{}},
		{"offset-before-1677", func() ([]byte, int64) { return ng(0, offset(first.Unix()-1)) }, time.Time{}},
		{"offset-1677", func() ([]byte, int64) { return ng(0, offset(first.Unix())) }, first},
		{"pcap-usec-fraction-max", func() ([]byte, int64) { return pcap(false, 999_999) }, time.Unix(1_700_000_000, 999_999_000).UTC()},
		{"pcap-usec-fraction-a-second", func() ([]byte, int64) { return pcap(false, 1_000_000) }, time.Time{}},
		{"pcap-nsec-fraction-max", func() ([]byte, int64) { return pcap(true, 999_999_999) }, time.Unix(1_700_000_000, 999_999_999).UTC()},
		{"pcap-nsec-fraction-a-second", func() ([]byte, int64) { return pcap(true, 1_000_000_000) }, time.Time{}},
		{"pcap-nsec-fraction-huge", func() ([]byte, int64) { return pcap(true, math.MaxUint32) }, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, at := tc.in()
			r, err := NewReader(bytes.NewReader(in), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Next()
			if tc.want.IsZero() {
				var re *ReadError
				if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || re.Offset != at {
					t.Fatalf("got %v (time %v, UnixNano %d), want ErrCorrupt at byte %d", err, p.Time, p.Time.UnixNano(), at)
				}
				return
			}
			if err != nil || !p.Time.Equal(tc.want) || p.Time.UnixNano() != tc.want.UnixNano() {
				t.Errorf("got %v (UnixNano %d), %v; want %v", p.Time, p.Time.UnixNano(), err, tc.want)
			}
		})
	}
}

// TestManyCommentsReadInLinearTime: a block may hold thousands of small
// opt_comments (a hostile file: 131 k of them in a 1 MiB block took 3 s
// to read when each was joined to the text so far). The Reader joins a
// block's comments at once, whatever their number, into the same text:
// the allocations do not grow with their count.
func TestManyCommentsReadInLinearTime(t *testing.T) {
	const k = 4096
	lines := strings.TrimSuffix(strings.Repeat("x\n", k), "\n")
	var f []byte
	f = appendSHB(f, lines, "", "", "")
	f = appendIDB(f, "a", "", 1500)
	f, start := beginBlock(f, blockEPB)
	for _, v := range []uint32{0, 0, 0, 4, 4} { // interface, time high and low, lengths
		f = le.AppendUint32(f, v)
	}
	f = append(f, "data"...)
	for range k {
		f = appendOption(f, optComment, "x")
	}
	f = endBlock(appendEndOfOptions(f), start)
	f, start = beginBlock(f, blockISB)
	f = le.AppendUint32(f, 0)
	f = le.AppendUint64(f, 0)
	for range k {
		f = appendOption(f, optComment, trailerPrefix+"x")
	}
	f = endBlock(appendEndOfOptions(f), start)

	var comment, section, trailer string
	read := func() {
		r, err := NewReader(bytes.NewReader(f), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after the packet: %v, want io.EOF", err)
		}
		comment, section, trailer = p.Comment, r.Section().Comment, r.Trailer()
	}
	allocs := testing.AllocsPerRun(3, read)
	if comment != lines || section != lines || trailer != lines {
		t.Errorf("got comments of %d, %d and %d bytes, want the %d lines joined (%d bytes) in each", len(comment), len(section), len(trailer), k, len(lines))
	}
	if allocs > 100 {
		t.Errorf("reading a file of three blocks of %d comments each took %.0f allocations, want a few, whatever the count", k, allocs)
	}
}
