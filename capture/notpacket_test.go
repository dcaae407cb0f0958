package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// notPacketFile is a pcapng file whose records Wireshark numbers 1 to 8:
// packets 1, 3, 5 and 8 (Ethernet, payload byte 1 to 4), a custom block
// (2), a systemd Journal Export Block (4), a custom block not to be copied
// (6), a packet on a NULL interface (7), a Sysdig event (9) and packet 10
// (payload byte 5); the name resolution and statistics blocks between
// them are no records.
func notPacketFile(o byteOrder) []byte {
	g := (&ngBuilder{o: o}).shb().idb(LinkTypeEthernet, 0, opt{optIfName, []byte("eth0")}).idb(LinkTypeNull, 0)
	eth := func(n byte) []byte { return append(frame(14, 1, 2, 0), bytes.Repeat([]byte{n}, 46)...) }
	custom := func(s string) []byte { return append(o.AppendUint32(nil, 32473), s...) }
	g.epb(0, 1_000_000, eth(1), 60)
	g.block(blockCustom, custom("copied"))
	g.block(blockNRB, []byte{0, 0, 0, 0})
	g.epb(0, 2_000_000, eth(2), 60)
	g.block(blockJournal, []byte("__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE=hello\n"))
	g.epb(0, 3_000_000, eth(3), 60)
	g.block(blockCustomNoCopy, custom("not copied"))
	g.block(blockISB, make([]byte, 12))
	g.epb(1, 4_000_000, []byte{2, 0, 0, 0, 0x45}, 5)
	g.epb(0, 5_000_000, eth(4), 60)
	// CPU 0, time, thread 1, event length 26, event type 1, no parameters.
	sysdig := o.AppendUint16(nil, 0)
	sysdig = o.AppendUint64(sysdig, 5_500_000)
	sysdig = o.AppendUint64(sysdig, 1)
	sysdig = o.AppendUint32(sysdig, 26)
	sysdig = o.AppendUint16(sysdig, 1)
	g.block(blockSysdigEvent, sysdig)
	g.epb(0, 6_000_000, eth(5), 60)
	return g.b
}

// TestReadNumbersRecordsThatAreNotPackets: custom blocks, systemd
// journal entries and Sysdig events are records, numbered as Wireshark numbers them, so
// that the packets after them keep Wireshark's numbers. A reader that
// takes any link type returns them (LinkTypeNotPacket, Packet.Block); one
// that lists the link types it takes passes over them, numbered all the
// same.
func TestReadNumbersRecordsThatAreNotPackets(t *testing.T) {
	type rec struct {
		n     int
		lt    LinkType
		block uint32
		data  string // a packet's payload byte, or a record's body
	}
	all := []rec{
		{1, LinkTypeEthernet, 0, "\x01"},
		{2, LinkTypeNotPacket, blockCustom, "copied"},
		{3, LinkTypeEthernet, 0, "\x02"},
		{4, LinkTypeNotPacket, blockJournal, "__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE=hello\n"},
		{5, LinkTypeEthernet, 0, "\x03"},
		{6, LinkTypeNotPacket, blockCustomNoCopy, "not copied"},
		{7, LinkTypeNull, 0, "\x45"},
		{8, LinkTypeEthernet, 0, "\x04"},
		{9, LinkTypeNotPacket, blockSysdigEvent, "24 bytes"},
		{10, LinkTypeEthernet, 0, "\x05"},
	}
	for _, bo := range orders {
		for _, tc := range []struct {
			name  string
			types []LinkType
			want  []rec
		}{
			{"any link type", nil, all},
			{"ethernet and null", []LinkType{LinkTypeEthernet, LinkTypeNull}, slices.DeleteFunc(slices.Clone(all), func(r rec) bool { return r.block != 0 })},
			{"ethernet and not packets", []LinkType{LinkTypeEthernet, LinkTypeNotPacket}, all[:6]},
		} {
			t.Run(bo.name+"/"+tc.name, func(t *testing.T) {
				r, err := NewReader(bytes.NewReader(notPacketFile(bo.o)), ReadOptions{LinkTypes: tc.types})
				if err != nil {
					t.Fatal(err)
				}
				var got []rec
				for {
					p, err := r.Next()
					if err != nil {
						if err != io.EOF && len(got) < len(tc.want) {
							t.Fatalf("after record %d: %v", len(got), err)
						}
						break
					}
					d := string(p.Data)
					switch {
					case p.Block == blockCustom || p.Block == blockCustomNoCopy:
						d = strings.TrimRight(d[4:], "\x00") // the Private Enterprise Number, the padding
					case p.Block == blockJournal:
						d = strings.TrimRight(d, "\x00")
					case p.Block != 0:
						d = strconv.Itoa(len(d)) + " bytes"
					case len(d) > 14:
						d = d[14:15]
					default:
						d = d[4:]
					}
					got = append(got, rec{p.Number, p.LinkType, p.Block, d})
					if p.Block != 0 && (!p.Time.IsZero() || p.Interface != 0 || p.IfName != "" || p.Comment != "") {
						t.Errorf("record %d: got %+v, want no time, interface or comment", p.Number, p)
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("got records %+v,\nwant %+v", got, tc.want)
				}
			})
		}
	}
}

// TestTsharkNumbersRecordsAsTheReader: every packet the Reader returns has
// the number tshark gives that frame.
func TestTsharkNumbersRecordsAsTheReader(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install the Debian package tshark to run this test")
	}
	b := notPacketFile(binary.LittleEndian)
	path := tempPath(t, "records.pcapng")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// frame.encap_type is 1 (Ethernet) for the Ethernet frames only.
	out := runTshark(t, tshark, "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "frame.encap_type", "-e", "eth.src")
	var want []string
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines {
		if f := strings.Split(line, "|"); len(f) == 3 && f[1] == "1" {
			want = append(want, f[0])
		}
	}
	r, err := NewReader(bytes.NewReader(b), ReadOptions{LinkTypes: []LinkType{LinkTypeEthernet, LinkTypeNull}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	records := 0
	for p, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		records = p.Number
		if p.LinkType == LinkTypeEthernet {
			got = append(got, strconv.Itoa(p.Number))
		}
	}
	if !slices.Equal(got, want) || records != len(lines) {
		t.Errorf("the Reader numbers the Ethernet frames %q of %d records, tshark %q of %d:\n%s", got, records, want, len(lines), out)
	}
}
