package replay

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

var update = flag.Bool("update", false, "rewrite the goldens (and generated inputs) under testdata")

var (
	macA = hubtest.MAC("52:54:00:12:34:0a")
	macB = hubtest.MAC("52:54:00:12:34:0b")
	macC = hubtest.MAC("52:54:00:12:34:0c")
	ipA  = net.IPv4(10, 42, 0, 10)
	ipB  = net.IPv4(10, 42, 0, 11)
	ipC  = net.IPv4(10, 42, 0, 12)
)

// udpFrame builds an Ethernet/IPv4/UDP frame with correct checksums; id
// varies the IPv4 identification so that frames differ as a real stack's do.
func udpFrame(tb testing.TB, src, dst [6]byte, sip, dip net.IP, sport, dport uint16, id uint16, payload string) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: layers.IPProtocolUDP, SrcIP: sip.To4(), DstIP: dip.To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, eth, ip, udp, gopacket.Payload(payload))
}

// udp6Frame builds an Ethernet/IPv6/UDP frame with correct checksums.
func udp6Frame(tb testing.TB, src, dst [6]byte, sip, dip netip.Addr, sport, dport uint16, payload string) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: sip.AsSlice(), DstIP: dip.AsSlice()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, eth, ip, udp, gopacket.Payload(payload))
}

// tcp6Frame builds an Ethernet/IPv6/TCP frame with correct checksums.
func tcp6Frame(tb testing.TB, src, dst [6]byte, sip, dip netip.Addr, sport, dport uint16, seq uint32, payload string) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: sip.AsSlice(), DstIP: dip.AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, ACK: true, Ack: 1, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, eth, ip, tcp, gopacket.Payload(payload))
}

// tcpFrame builds an Ethernet/IPv4/TCP frame with correct checksums.
func tcpFrame(tb testing.TB, src, dst [6]byte, sip, dip net.IP, sport, dport uint16, seq uint32, syn bool, payload string) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: uint16(seq), Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: sip.To4(), DstIP: dip.To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, SYN: syn, ACK: !syn, Ack: 1, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, eth, ip, tcp, gopacket.Payload(payload))
}

// icmpFrame builds an Ethernet/IPv4/ICMP echo request.
func icmpFrame(tb testing.TB, src, dst [6]byte, sip, dip net.IP, seq uint16) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: seq, Protocol: layers.IPProtocolICMPv4, SrcIP: sip.To4(), DstIP: dip.To4()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: seq}
	return serialize(tb, eth, ip, icmp, gopacket.Payload("ping"))
}

// arpFrame builds an ARP request from src for tip.
func arpFrame(tb testing.TB, src [6]byte, sip, tip net.IP) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: src[:], DstMAC: hubtest.Broadcast[:], EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: src[:], SourceProtAddress: sip.To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: tip.To4()}
	return serialize(tb, eth, arp)
}

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	b := buf.Bytes()
	if len(b) < 60 {
		b = append(b, make([]byte, 60-len(b))...)
	}
	return b
}

// memInput is an Input backed by bytes.
func memInput(path string, data []byte) Input {
	return Input{Path: path, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

type memFile struct{ *bytes.Buffer }

func (memFile) Close() error { return nil }

// memCapture returns a capture config writing into buf.
func memCapture(buf *bytes.Buffer, meta capture.Meta) *capture.Config {
	return &capture.Config{
		Path:   "/mem/out.pcapng",
		Meta:   meta,
		Create: func(string) (io.WriteCloser, error) { return memFile{buf}, nil },
	}
}

// pcapRecord is one record of a classic pcap file written by writePcap.
type pcapRecord struct {
	at    time.Duration
	frame []byte
}

// writePcap writes a microsecond classic pcap as QEMU's filter-dump does,
// with gopacket's writer rather than ours.
func writePcap(tb testing.TB, epoch time.Time, recs []pcapRecord) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: epoch.Add(r.at), CaptureLength: len(r.frame), Length: len(r.frame)}
		if err := w.WritePacket(ci, r.frame); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Bytes()
}

func mustPolicy(tb testing.TB, src string, ports []string) *filter.Policy {
	tb.Helper()
	p, err := filter.Parse([]byte(src), "policy.yaml", ports)
	if err != nil {
		tb.Fatalf("policy: %v", err)
	}
	return p
}

// golden compares got with testdata/name, or rewrites it under -update. On
// a capture mismatch it describes the first differing packet.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	if strings.HasSuffix(name, ".pcapng") {
		t.Fatalf("%s differs from the golden: %s", name, firstDiff(got, want))
	}
	t.Fatalf("%s differs from the golden:\ngot:\n%s\nwant:\n%s", name, got, want)
}

// firstDiff decodes the first packet that differs between two captures.
func firstDiff(got, want []byte) string {
	rg, err := capture.NewReader(bytes.NewReader(got), capture.ReadOptions{})
	if err != nil {
		return "got: " + err.Error()
	}
	rw, err := capture.NewReader(bytes.NewReader(want), capture.ReadOptions{})
	if err != nil {
		return "want: " + err.Error()
	}
	if rg.Section().Comment != rw.Section().Comment {
		return fmt.Sprintf("section header: got %q, want %q", rg.Section().Comment, rw.Section().Comment)
	}
	for n := 1; ; n++ {
		pg, eg := rg.Next()
		pw, ew := rw.Next()
		if eg != nil || ew != nil {
			return fmt.Sprintf("packet %d: got error %v, want error %v (sizes %d vs %d bytes)", n, eg, ew, len(got), len(want))
		}
		if pg.Time.Equal(pw.Time) && pg.IfName == pw.IfName && pg.Dir == pw.Dir && pg.Comment == pw.Comment && bytes.Equal(pg.Data, pw.Data) {
			continue
		}
		return fmt.Sprintf("packet %d:\n got  %s\n want %s", n, describePacket(pg), describePacket(pw))
	}
}

// readPackets returns every packet of a capture in data, each with its
// own copy of its bytes.
func readPackets(tb testing.TB, data []byte) []capture.Packet {
	tb.Helper()
	rd, err := capture.NewReader(bytes.NewReader(data), capture.ReadOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	var ps []capture.Packet
	for p, err := range rd.All() {
		if err != nil {
			tb.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
	}
	return ps
}

func describePacket(p capture.Packet) string {
	pkt := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
	var ls []string
	for _, l := range pkt.Layers() {
		ls = append(ls, l.LayerType().String())
	}
	return fmt.Sprintf("%s %s %s %d bytes [%s] comment %q", p.Time.Format(time.RFC3339Nano), p.IfName, p.Dir, len(p.Data), strings.Join(ls, "/"), p.Comment)
}

// endRun ends a simulated run as serve's shutdown ends it: the timers
// drained, then the capture closed (its statistics blocks written). It
// returns the files the capture wrote.
func endRun(t *testing.T, sim *hubtest.Sim, sink *capture.Sink) []string {
	t.Helper()
	sim.Drain()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.Files()
}

// liveSink opens the capture of a simulated live run into buf, with meta
// for its header. It blocks rather than drops when its writer is behind
// (serve's drops), so that the capture holds every event of the run.
func liveSink(tb testing.TB, buf *bytes.Buffer, meta capture.Meta) *capture.Sink {
	tb.Helper()
	cfg := memCapture(buf, meta)
	cfg.Overflow = capture.OverflowBlock
	sink, err := capture.Open(*cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return sink
}

// oneFrameRun records a live run on ports a and b, in mode under pol
// (nil: none), whose capture header is meta, in a file it returns: a
// sends frame.
func oneFrameRun(t *testing.T, mode hub.Mode, pol hub.Policy, meta capture.Meta, frame []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock, Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: mode, Ports: []string{"a", "b"}, Policy: pol, Observers: []hub.Observer{sink}})
	sim.Send("a", frame)
	endRun(t, sim, sink)
	return path
}
