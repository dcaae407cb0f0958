package report

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/conformance"
	"l2hub/packet"
)

// gopacketLabeller is the labeller as it was before it read frames with
// package packet: gopacket's DecodingLayerParser over Ethernet, 802.1Q,
// ARP, IPv4, IPv6, UDP, TCP and ICMPv4. Only the parsing is its own: what
// a UDP or TCP header it found is named is the labeller's (udpLabel,
// tcpLabel and their flow state), so TestLabelsAsBefore compares the two
// parsers, and TestLabelDifferences pins where they part, on purpose.
type gopacketLabeller struct {
	*labeller

	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	arp     layers.ARP
	ip4     layers.IPv4
	ip6     layers.IPv6
	udp     layers.UDP
	tcp     layers.TCP
	icmp    layers.ICMPv4
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newGopacketLabeller(noiseXK bool) *gopacketLabeller {
	l := &gopacketLabeller{labeller: newLabeller(noiseXK)}
	l.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&l.eth, &l.dot1q, &l.arp, &l.ip4, &l.ip6, &l.udp, &l.tcp, &l.icmp)
	l.parser.IgnoreUnsupported = true
	return l
}

func (l *gopacketLabeller) label(frame []byte) (lb Label) {
	if len(frame) < 14 {
		return Label{Text: "runt", Proto: ProtoOther}
	}
	defer func() {
		// gopacket's decoders are not ours to vouch for: a frame that
		// panics one is shown as malformed rather than ending the report.
		if recover() != nil {
			lb = Label{Text: "malformed", Proto: ProtoOther}
		}
	}()
	l.decoded = l.decoded[:0]
	err := l.parser.DecodeLayers(frame, &l.decoded)
	has := func(t gopacket.LayerType) bool {
		for _, d := range l.decoded {
			if d == t {
				return true
			}
		}
		return false
	}
	switch {
	case has(layers.LayerTypeARP):
		switch l.arp.Operation {
		case layers.ARPRequest:
			return Label{Text: "ARP request", Proto: ProtoARP, Groupable: true}
		case layers.ARPReply:
			return Label{Text: "ARP reply", Proto: ProtoARP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ARP op %d", l.arp.Operation), Proto: ProtoARP}
	case has(layers.LayerTypeTCP) && has(layers.LayerTypeIPv4):
		return l.gopacketTCPLabel()
	case has(layers.LayerTypeUDP) && has(layers.LayerTypeIPv4):
		return l.udpLabel(uint16(l.udp.SrcPort), uint16(l.udp.DstPort), l.udp.Payload, int(l.udp.Length)-8)
	case has(layers.LayerTypeICMPv4):
		switch l.icmp.TypeCode.Type() {
		case layers.ICMPv4TypeEchoRequest:
			return Label{Text: "ICMP echo request", Proto: ProtoICMP, Groupable: true}
		case layers.ICMPv4TypeEchoReply:
			return Label{Text: "ICMP echo reply", Proto: ProtoICMP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ICMP type %d", l.icmp.TypeCode.Type()), Proto: ProtoICMP}
	case has(layers.LayerTypeIPv6):
		return Label{Text: "IPv6 " + l.ip6.NextHeader.String(), Proto: ProtoIPv6, Groupable: true}
	case has(layers.LayerTypeIPv4):
		if l.ip4.Flags&layers.IPv4MoreFragments != 0 || l.ip4.FragOffset != 0 {
			return Label{Text: "IPv4 fragment", Proto: ProtoOther, Groupable: true}
		}
		return Label{Text: "IPv4 " + l.ip4.Protocol.String(), Proto: ProtoOther, Groupable: true}
	}
	if err != nil && len(l.decoded) == 0 {
		return Label{Text: "malformed", Proto: ProtoOther}
	}
	et := l.eth.EthernetType
	if has(layers.LayerTypeDot1Q) {
		et = l.dot1q.Type
	}
	return Label{Text: fmt.Sprintf("EtherType 0x%04x", uint16(et)), Proto: ProtoOther, Groupable: true}
}

// gopacketTCPLabel hands the TCP header gopacket found to the labeller's
// tcpLabel, as the fields package packet would give it.
func (l *gopacketLabeller) gopacketTCPLabel() Label {
	t := &l.tcp
	src, ok1 := netip.AddrFromSlice(l.ip4.SrcIP)
	dst, ok2 := netip.AddrFromSlice(l.ip4.DstIP)
	if !ok1 || !ok2 {
		return Label{Text: "TCP", Proto: ProtoTCP}
	}
	h := packet.Headers{Src: src, Dst: dst, SrcPort: uint16(t.SrcPort), DstPort: uint16(t.DstPort), Seq: t.Seq, End: len(t.Payload)}
	for _, f := range []struct {
		set  bool
		flag uint8
	}{{t.SYN, packet.TCPSyn}, {t.ACK, packet.TCPAck}, {t.RST, packet.TCPRst}, {t.FIN, packet.TCPFin}} {
		if f.set {
			h.TCPFlags |= f.flag
		}
	}
	return l.tcpLabel(&h)
}

// arpRequest is a's ARP request for b's address.
func arpRequest() []byte {
	f := make([]byte, 60) // 14 + 28, padded as on the wire
	for i := range 6 {
		f[i] = 0xff
	}
	src := simMAC["a"]
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	arp := f[14:]
	binary.BigEndian.PutUint16(arp[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(arp[2:], 0x0800) // IPv4
	arp[4], arp[5] = 6, 4
	binary.BigEndian.PutUint16(arp[6:], 1) // request
	sip, tip := simIP["a"], simIP["b"]
	copy(arp[8:14], src[:])
	copy(arp[14:18], sip[:])
	copy(arp[24:28], tip[:])
	return f
}

// BenchmarkLabel labels the frames a capture holds most: announces, TCP
// data and ACKs, other UDP and ARP.
func BenchmarkLabel(b *testing.B) {
	frames := [][]byte{
		announceFrame(b, "a", 34567),
		withChecksums(tcpSegment("a", "b", 40000, 5001, 1000, 5000, 0x18, 1448)),
		withChecksums(tcpSegment("b", "a", 5001, 40000, 5000, 2448, 0x10, 0)),
		withChecksums(udpFrame("a", "b", 40010, 1, 20)),
		arpRequest(),
	}
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	l := newLabeller(false)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, f := range frames {
			l.label(f)
		}
	}
}

// BenchmarkBuild builds the report model of a 20 000-frame capture of two
// VMs (announces, a bulk TCP transfer, loss and a partition): reading,
// labelling, matching deliveries and drops, grouping.
func BenchmarkBuild(b *testing.B) {
	path := largeCapture(b, 20_000)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Build(Options{Capture: path})
		if err != nil {
			b.Fatal(err)
		}
		if m.Records < 20_000 {
			b.Fatalf("got %d records, want 20 000", m.Records)
		}
	}
}

// labelMACs and addresses of the frames built below.
var (
	lblA, lblB   = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x0a}, net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x0b}
	lbl4A, lbl4B = net.IP{10, 42, 0, 10}, net.IP{10, 42, 0, 11}
	lbl6A, lbl6B = netip.MustParseAddr("fd00::a").AsSlice(), netip.MustParseAddr("fd00::b").AsSlice()
)

// serializeFrame builds a frame with lengths and checksums computed.
func serializeFrame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	var nl gopacket.NetworkLayer
	for _, l := range ls {
		switch x := l.(type) {
		case *layers.IPv4:
			nl = x
		case *layers.IPv6:
			nl = x
		case *layers.TCP:
			x.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			x.SetNetworkLayerForChecksum(nl)
		case *layers.ICMPv6:
			x.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func lblEth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: lblA, DstMAC: lblB, EthernetType: et}
}

func lblIPv4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: lbl4A, DstIP: lbl4B}
}

func lblIPv6(p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: lbl6A, DstIP: lbl6B}
}

func lblTCP(sport, dport layers.TCPPort, seq uint32, syn, ack, fin, rst bool) *layers.TCP {
	return &layers.TCP{SrcPort: sport, DstPort: dport, Seq: seq, Ack: 1, SYN: syn, ACK: ack, FIN: fin, RST: rst, Window: 512}
}

func lblARP(op uint16) *layers.ARP {
	return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: lblA, SourceProtAddress: lbl4A, DstHwAddress: make([]byte, 6), DstProtAddress: lbl4B}
}

// labelCorpus is a sequence of well-formed frames of every kind the
// labeller tells apart: a nexus session (announce, handshake, records,
// retransmissions), other TCP, UDP (DHCP, DNS, others), ICMP, ARP, IPv6,
// IPv4 fragments, VLAN tags and other EtherTypes.
func labelCorpus(t testing.TB) [][]byte {
	ann, err := conformance.Announce{DeviceID: "node-b", Port: 34570, Services: []string{"samgr"}}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ip := func(p layers.IPProtocol) *layers.IPv4 { return lblIPv4(p) }
	rev := func(l *layers.IPv4) *layers.IPv4 { l.SrcIP, l.DstIP = l.DstIP, l.SrcIP; return l }
	data := func(n int) gopacket.Payload { return bytes.Repeat([]byte{0x5a}, n) }
	e4, e6 := lblEth(layers.EthernetTypeIPv4), lblEth(layers.EthernetTypeIPv6)
	frames := [][]byte{
		serializeFrame(t, e4, ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann)),
		serializeFrame(t, e4, ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload("NXSB?")),
		// The announced session on 34570: handshake and records.
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 100, true, false, false, false)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 100, true, false, false, false)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolTCP)), lblTCP(34570, 40000, 900, true, true, false, false)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 101, false, true, false, false)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 101, false, true, false, false), data(32)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolTCP)), lblTCP(34570, 40000, 901, false, true, false, false), data(96)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 133, false, true, false, false), data(64)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 133, false, true, false, false), data(64)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 197, false, true, false, false), data(100)),
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40000, 34570, 297, false, true, true, false), data(10)),
		// The well-known session port, and a connection seen mid-stream.
		serializeFrame(t, e4, ip(layers.IPProtocolTCP), lblTCP(40001, 34568, 5, true, false, false, false)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolTCP)), lblTCP(5001, 40002, 7, false, true, false, false), data(1448)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolTCP)), lblTCP(5001, 40002, 7, false, true, false, true), data(8)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolTCP)), lblTCP(5001, 40002, 7, false, true, false, true)),
		serializeFrame(t, e4, ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 68, DstPort: 67}, data(300)),
		serializeFrame(t, e4, ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 53, DstPort: 40000}, data(30)),
		serializeFrame(t, e4, ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 40010}, data(4)),
		serializeFrame(t, e4, ip(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, data(8)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolICMPv4)), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0)}, data(8)),
		serializeFrame(t, e4, rev(ip(layers.IPProtocolICMPv4)), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, data(28)),
		serializeFrame(t, e4, ip(layers.IPProtocolIGMP), data(8)),
		serializeFrame(t, e4, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: lbl4A, DstIP: lbl4B,
			Flags: layers.IPv4MoreFragments}, &layers.UDP{SrcPort: 1, DstPort: 2}, data(40)),
		serializeFrame(t, e4, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: lbl4A, DstIP: lbl4B,
			FragOffset: 6}, data(40)),
		serializeFrame(t, lblEth(layers.EthernetTypeARP), lblARP(1)),
		serializeFrame(t, lblEth(layers.EthernetTypeARP), lblARP(2)),
		serializeFrame(t, lblEth(layers.EthernetTypeARP), lblARP(3)),
		serializeFrame(t, e6, lblIPv6(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann)),
		serializeFrame(t, e6, lblIPv6(layers.IPProtocolTCP), lblTCP(40000, 34568, 1, true, false, false, false)),
		serializeFrame(t, e6, lblIPv6(layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}, data(20)),
		serializeFrame(t, lblEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4},
			ip(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann)),
		serializeFrame(t, lblEth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeARP}, lblARP(1)),
		serializeFrame(t, lblEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: 0x88b5}, data(46)),
		serializeFrame(t, lblEth(0x88b5), data(46)),
		serializeFrame(t, lblEth(layers.EthernetTypeIPv4), data(0)),
	}
	return frames
}

// TestLabelsAsBefore: the labeller names every frame of the repository's
// captures, and every frame of labelCorpus cut to every length (header
// fields past the cut, partial headers), as the gopacket labeller did.
func TestLabelsAsBefore(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"testdata/*.pcap*", "../*/testdata/*.pcap*", "../*/*/testdata/*.pcap*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if abs, err := filepath.Abs(p); err == nil && !slices.ContainsFunc(paths, func(q string) bool { a, _ := filepath.Abs(q); return a == abs }) {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) < 10 {
		t.Fatalf("got %d captures (%q), want the repository's", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			l, ref := newLabeller(false), newGopacketLabeller(false)
			n := 0
			for _, p := range capturetest.Packets(t, path) {
				if p.LinkType != capture.LinkTypeEthernet {
					continue
				}
				n++
				if got, want := l.label(p.Data), ref.label(p.Data); got != want {
					t.Errorf("got label(#%d) = %+v, want %+v\n% x", p.Number, got, want, p.Data)
				}
			}
			if n == 0 {
				t.Error("got no Ethernet frames")
			}
		})
	}
	t.Run("every-kind-cut-anywhere", func(t *testing.T) {
		l, ref := newLabeller(false), newGopacketLabeller(false)
		for i, frame := range labelCorpus(t) {
			for n := len(frame); n >= 0; n-- {
				if got, want := l.label(frame[:n]), ref.label(frame[:n]); got != want {
					t.Errorf("got label(frame %d cut to %d) = %+v, want %+v\n% x", i, n, got, want, frame[:n])
				}
			}
		}
	})
}

// TestLabelDifferences pins where the labeller parts from the gopacket
// one: it reads headers as the hub's policy, the checker and replay do
// (package packet), so a header they refuse is not named after what it
// claims, and a header they accept is named although gopacket refused it;
// IPv6 is named after what it carries, past its extension headers.
func TestLabelDifferences(t *testing.T) {
	udp4 := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 9}, gopacket.Payload("datagram"))
	with := func(f []byte, edit func(f []byte)) []byte { f = bytes.Clone(f); edit(f); return f }
	ipv6Ext := func(first byte, ext []byte, inner []byte) []byte {
		ip := []byte{0x60, 0, 0, 0, 0, 0, first, 64}
		binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(inner)))
		ip = append(append(append(append(ip, lbl6A...), lbl6B...), ext...), inner...)
		return append(serializeFrame(t, lblEth(layers.EthernetTypeIPv6))[:14], ip...)
	}
	udpHdr := []byte{0, 1, 0, 9, 0, 12, 0, 0, 'd', 'a', 't', 'a'}
	mld := []byte{143, 0, 0, 0, 0, 0, 0, 0}
	// An IPv4 option: type 7 (record route) with a length of 1.
	badOption := append(bytes.Clone(udp4[:14]), 0x46)
	badOption = append(badOption, udp4[15:34]...)
	badOption = append(badOption, 7, 1, 0, 0)
	badOption = append(badOption, udp4[34:]...)
	binary.BigEndian.PutUint16(badOption[16:], uint16(len(badOption)-14))
	threeTags := serializeFrame(t, lblEth(layers.EthernetTypeQinQ), &layers.Dot1Q{Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{Type: layers.EthernetTypeIPv4}, lblIPv4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 9}, gopacket.Payload("datagram"))
	badTCPOption := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolTCP),
		&layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}})
	badTCPOption[14+20+21] = 9 // the MSS option's length: past the header
	for _, tc := range []struct {
		name, was, is string
		frame         []byte
	}{
		{"ipv6-behind-hop-by-hop", "IPv6 IPv6HopByHop", "IPv6 UDP", ipv6Ext(0, []byte{17, 0, 1, 4, 0, 0, 0, 0}, udpHdr)},
		{"mld-report", "IPv6 IPv6HopByHop", "IPv6 ICMPv6", ipv6Ext(0, []byte{58, 0, 5, 2, 0, 0, 1, 0}, mld)},
		{"ipv6-fragment", "IPv6 IPv6Fragment", "IPv6 fragment", ipv6Ext(44, []byte{17, 0, 0, 1, 0, 0, 0, 1}, udpHdr)},
		{"ipv6-zero-payload-length", "EtherType 0x86dd", "IPv6 UDP", with(ipv6Ext(17, nil, udpHdr), func(f []byte) { f[14+4], f[14+5] = 0, 0 })},
		// Valid (RFC 8200): nothing follows the header.
		{"ipv6-no-next-header-empty", "EtherType 0x86dd", "IPv6 NoNextHeader", ipv6Ext(59, nil, nil)},
		{"icmpv4-over-ipv6", "ICMP echo request", "IPv6 ICMPv4", ipv6Ext(1, nil, []byte{8, 0, 0, 0, 0, 1, 0, 1})},
		{"ipv4-version-6", "UDP 9", "EtherType 0x0800", with(udp4, func(f []byte) { f[14] = 0x65 })},
		{"ipv4-total-length-0", "UDP 9", "EtherType 0x0800", with(udp4, func(f []byte) { f[16], f[17] = 0, 0 })},
		{"ipv4-option-too-short", "EtherType 0x0800", "UDP 9", badOption},
		{"udp-length-0", "UDP 9", "IPv4 UDP", with(udp4, func(f []byte) { f[38], f[39] = 0, 0 })},
		{"udp-length-past-the-packet", "UDP 9", "IPv4 UDP", with(udp4, func(f []byte) { f[38], f[39] = 0, 200 })},
		{"three-vlan-tags", "UDP 9", "EtherType 0x8100", threeTags},
		{"tcp-option-past-the-header", "IPv4 TCP", "TCP ACK", badTCPOption},
		{"ieee-802.3", "EtherType 0x0000", "802.3 LLC", serializeFrame(t, lblEth(46), gopacket.Payload(make([]byte, 46)))},
		{"arp-not-ethernet", "ARP request", "EtherType 0x0806", with(serializeFrame(t, lblEth(layers.EthernetTypeARP), lblARP(1)), func(f []byte) { f[15] = 6 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newGopacketLabeller(false).label(tc.frame).Text; got != tc.was {
				t.Errorf("got the gopacket labeller's %q, want %q", got, tc.was)
			}
			if got := newLabeller(false).label(tc.frame).Text; got != tc.is {
				t.Errorf("got label %q, want %q", got, tc.is)
			}
		})
	}
}

// TestLabelCutAnnounce: an announce the capture's snaplen cut is a cut
// announce, not "not an announce" (the OS received it whole), and its
// session port is learnt when the frame still holds it.
func TestLabelCutAnnounce(t *testing.T) {
	ann, err := conformance.Announce{DeviceID: "node-b", Port: 34570, Services: []string{"samgr"}}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	const hdr = 14 + 20 + 8 // Ethernet, IPv4, UDP
	frame := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann))
	short := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann[:20]))
	shortName := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 37020, DstPort: 37020}, gopacket.Payload(ann[:50]))
	syn := serializeFrame(t, lblEth(layers.EthernetTypeIPv4), lblIPv4(layers.IPProtocolTCP), lblTCP(40000, 34570, 100, true, false, false, false))
	for _, tc := range []struct {
		name    string
		frame   []byte
		label   string
		session bool // a SYN to port 34570 after it is nexus
	}{
		{"whole", frame, "NXSB announce", true},
		{"cut-after-the-port", frame[:hdr+6+6+2], "NXSB announce (cut)", true},
		{"cut-in-the-services", frame[:len(frame)-2], "NXSB announce (cut)", true},
		{"cut-in-the-port", frame[:hdr+6+6+1], "NXSB announce (cut)", false},
		{"cut-in-the-magic", frame[:hdr+2], "NXSB announce (cut)", false},
		// Short on the wire, not in the capture: the OS rejects it too.
		{"short-datagram", short, "UDP 37020 (not an announce)", false},
		// Short on the wire and cut too: the lengths kept need more bytes
		// than the datagram has, so the OS rejects it whatever it lost.
		{"short-and-cut-in-the-id", short[:hdr+10], "UDP 37020 (not an announce)", false},
		{"short-and-cut-in-a-name", shortName[:hdr+49], "UDP 37020 (not an announce)", false},
		// The lost bytes decide: a count of 0 fits in 50 bytes.
		{"short-and-cut-before-the-count", shortName[:hdr+30], "NXSB announce (cut)", true},
		{"cut-bad-magic", append(bytes.Clone(frame[:hdr]), "NXSC\x01"...), "UDP 37020 (not an announce)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLabeller(false)
			if got := l.label(tc.frame); got.Text != tc.label || got.Proto != ProtoNXSB {
				t.Errorf("got label %+v, want %q", got, tc.label)
			}
			want := ProtoTCP
			if tc.session {
				want = ProtoNexus
			}
			if got := l.label(syn); got.Proto != want {
				t.Errorf("got the SYN to 34570 labelled %+v, want protocol %s", got, want)
			}
		})
	}
}

// FuzzLabel labels any bytes, twice (the second time with the flow state
// the first left): it never panics and always names a protocol class.
func FuzzLabel(f *testing.F) {
	for _, frame := range labelCorpus(f) {
		f.Add(frame)
	}
	classes := []string{ProtoARP, ProtoNXSB, ProtoNexus, ProtoTCP, ProtoUDP, ProtoICMP, ProtoIPv6, ProtoOther}
	f.Fuzz(func(t *testing.T, frame []byte) {
		l := newLabeller(false)
		for range 2 {
			if lb := l.label(frame); lb.Text == "" || !slices.Contains(classes, lb.Proto) {
				t.Fatalf("got label %+v", lb)
			}
		}
	})
}
