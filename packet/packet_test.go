package packet_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"l2hub/packet"
)

var (
	macA = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x0a}
	macB = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x0b}
	v4A  = netip.MustParseAddr("10.42.0.10")
	v4B  = netip.MustParseAddr("10.42.0.11")
	v6A  = netip.MustParseAddr("fd00::a")
	v6B  = netip.MustParseAddr("fd00::b")
)

// build serialises layers with lengths and checksums computed, as a stack
// sends them.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for _, l := range ls {
		switch x := l.(type) {
		case *layers.TCP:
			for _, n := range ls {
				if ip, ok := n.(gopacket.NetworkLayer); ok {
					x.SetNetworkLayerForChecksum(ip)
				}
			}
		case *layers.UDP:
			for _, n := range ls {
				if ip, ok := n.(gopacket.NetworkLayer); ok {
					x.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func ip4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: v4A.AsSlice(), DstIP: v4B.AsSlice()}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 33, NextHeader: next, SrcIP: v6A.AsSlice(), DstIP: v6B.AsSlice()}
}

func udp() *layers.UDP { return &layers.UDP{SrcPort: 37020, DstPort: 37020} }

func tcp() *layers.TCP {
	return &layers.TCP{SrcPort: 34568, DstPort: 7000, Seq: 1000, Ack: 2000, SYN: true, ACK: true, Window: 512,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}}
}

var payload = gopacket.Payload("NXSB hello")

// ipv6Ext prefixes an IPv6 payload with extension headers: hop-by-hop (8
// bytes of padding options) and a fragment header at offset 0, more to
// come when more is set.
func ipv6Ext(t testing.TB, next layers.IPProtocol, inner []byte, offset uint16, more bool) []byte {
	t.Helper()
	hbh := []byte{byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0} // PadN
	fo := offset << 3
	if more {
		fo |= 1
	}
	frag := []byte{byte(next), 0, byte(fo >> 8), byte(fo), 0, 0, 0, 42}
	pl := append(append(hbh, frag...), inner...)
	f := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop), gopacket.Payload(pl))
	return f
}

// destOpts is an IPv6 packet whose n destination-options headers (8 bytes
// of padding each) precede a UDP datagram.
func destOpts(t testing.TB, n int, datagram []byte) []byte {
	t.Helper()
	var pl []byte
	for i := range n {
		next := byte(layers.IPProtocolIPv6Destination)
		if i == n-1 {
			next = byte(layers.IPProtocolUDP)
		}
		pl = append(pl, next, 0, 1, 4, 0, 0, 0, 0) // PadN
	}
	return build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Destination), gopacket.Payload(append(pl, datagram...)))
}

func TestParse(t *testing.T) {
	udp4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)
	tcp4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload)
	udp6 := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload)
	tcp6 := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload)
	vlan := build(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp(), payload)
	qinq := build(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv6}, ip6(layers.IPProtocolUDP), udp(), payload)
	arp := build(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: macA, SourceProtAddress: v4A.AsSlice(),
		DstHwAddress: make([]byte, 6), DstProtAddress: v4B.AsSlice()})
	padded := append(bytes.Clone(udp4), make([]byte, 6)...) // Ethernet padding after the IP packet
	cut := tcp4[:14+20+20]                                  // snaplen: headers only
	frag4 := bytes.Clone(udp4)
	binary.BigEndian.PutUint16(frag4[14+6:], 0x2000) // MF, offset 0
	later4 := bytes.Clone(udp4)
	binary.BigEndian.PutUint16(later4[14+6:], 0x0003) // offset 24 bytes
	badIHL := bytes.Clone(udp4)
	badIHL[14] = 0x44 // IHL 16 bytes: less than a header
	longIHL := bytes.Clone(udp4)
	longIHL[14] = 0x4f // IHL 60 bytes: past the frame
	optionsCut := bytes.Clone(udp4)
	optionsCut[14] = 0x46           // IHL 24 bytes: within the total length
	optionsCut = optionsCut[:14+22] // a snaplen inside the options
	udpHdr := binary.BigEndian.AppendUint16(nil, 37020)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 37020)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, uint16(8+len(payload)))
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 0)
	ext6 := ipv6Ext(t, layers.IPProtocolUDP, append(udpHdr, payload...), 0, true)
	later6 := ipv6Ext(t, layers.IPProtocolUDP, payload, 2, false)
	// A later fragment whose data reads as a destination-options header,
	// a fragment header at offset 0 and a TCP header to port 22: data.
	tcpTo22 := []byte{0x04, 0xd2, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 5 << 4, byte(packet.TCPSyn), 0xff, 0xff, 0, 0, 0, 0}
	fakeHeaders := append([]byte{byte(layers.IPProtocolIPv6Fragment), 0, 1, 4, 0, 0, 0, 0, byte(layers.IPProtocolTCP), 0, 0, 0, 0, 0, 0, 42}, tcpTo22...)
	laterLikeHeaders := ipv6Ext(t, layers.IPProtocolIPv6Destination, fakeHeaders, 100, false)
	// A first fragment whose fragment header is followed by another.
	twoFragments := ipv6Ext(t, layers.IPProtocolIPv6Fragment, append([]byte{byte(layers.IPProtocolTCP), 0, 0, 0, 0, 0, 0, 42}, tcpTo22...), 0, true)
	threeTags := build(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 3, Type: layers.EthernetTypeIPv4},
		ip4(layers.IPProtocolUDP), udp(), payload)
	tagOnly := vlan[:14+4] // the tag ends the frame
	shortTotal := bytes.Clone(udp4)
	binary.BigEndian.PutUint16(shortTotal[14+2:], 10) // total length less than the header
	udpCut := bytes.Clone(udp4)
	binary.BigEndian.PutUint16(udpCut[14+2:], 20+7) // the packet ends inside the UDP header
	tcpShortOff := bytes.Clone(tcp4)
	tcpShortOff[14+20+12] = 4 << 4 // data offset 16 bytes: less than a header
	tcpOptsCut := bytes.Clone(tcp4)
	binary.BigEndian.PutUint16(tcpOptsCut[14+2:], 20+23) // the packet ends inside the TCP options
	routingCut := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Routing),
		gopacket.Payload([]byte{byte(layers.IPProtocolUDP), 2, 2, 1, 0, 0, 0})) // 7 of its 24 bytes, segments left 1
	hbhLong := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop),
		gopacket.Payload(append([]byte{byte(layers.IPProtocolUDP), 10, 1, 4, 0, 0, 0, 0}, udpHdr...))) // says 88 bytes
	ext8, ext9 := destOpts(t, 8, append(udpHdr, payload...)), destOpts(t, 9, append(udpHdr, payload...))

	type want struct {
		et                   uint16
		tags                 int
		ver, proto           uint8
		src, dst             netip.Addr
		l3, l4, payload, end int
		frag                 bool
		fragOffset           uint16
		cut, ports, tcp      bool
		sport, dport         uint16
		flags                uint8
		routed               bool
	}
	// gopacket pads frames to Ethernet's 60 bytes: End is where the IP
	// packet ends, before the padding.
	v4UDP := want{et: 0x0800, ver: 4, proto: 17, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 42, end: 42 + len(payload), ports: true, sport: 37020, dport: 37020}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  want
	}{
		{"ipv4-udp", udp4, v4UDP},
		{"ipv4-tcp-options", tcp4, want{et: 0x0800, ver: 4, proto: 6, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 58, end: len(tcp4),
			ports: true, tcp: true, sport: 34568, dport: 7000, flags: packet.TCPSyn | packet.TCPAck}},
		{"ipv6-udp", udp6, want{et: 0x86dd, ver: 6, proto: 17, src: v6A, dst: v6B, l3: 14, l4: 54, payload: 62, end: len(udp6), ports: true, sport: 37020, dport: 37020}},
		{"ipv6-tcp", tcp6, want{et: 0x86dd, ver: 6, proto: 6, src: v6A, dst: v6B, l3: 14, l4: 54, payload: 78, end: len(tcp6),
			ports: true, tcp: true, sport: 34568, dport: 7000, flags: packet.TCPSyn | packet.TCPAck}},
		{"ipv6-hop-by-hop-and-first-fragment", ext6, want{et: 0x86dd, ver: 6, proto: 17, src: v6A, dst: v6B, l3: 14, l4: 70, payload: 78, end: len(ext6),
			frag: true, ports: true, sport: 37020, dport: 37020}},
		{"ipv6-later-fragment", later6, want{et: 0x86dd, ver: 6, proto: 17, src: v6A, dst: v6B, l3: 14, l4: 70, payload: 70, end: len(later6),
			frag: true, fragOffset: 2}},
		{"ipv6-later-fragment-data-like-headers", laterLikeHeaders, want{et: 0x86dd, ver: 6, proto: 60, src: v6A, dst: v6B, l3: 14, l4: 70, payload: 70, end: len(laterLikeHeaders),
			frag: true, fragOffset: 100}},
		{"ipv6-second-fragment-header", twoFragments, want{et: 0x86dd, ver: 6, src: v6A, dst: v6B, l3: 14, l4: 14, payload: 14, end: len(twoFragments), frag: true}},
		{"vlan", vlan, want{et: 0x0800, tags: 1, ver: 4, proto: 17, src: v4A, dst: v4B, l3: 18, l4: 38, payload: 46, end: 46 + len(payload), ports: true, sport: 37020, dport: 37020}},
		{"qinq-ipv6", qinq, want{et: 0x86dd, tags: 2, ver: 6, proto: 17, src: v6A, dst: v6B, l3: 22, l4: 62, payload: 70, end: len(qinq), ports: true, sport: 37020, dport: 37020}},
		{"arp", arp, want{et: 0x0806, l3: 14, l4: 14, payload: 14, end: len(arp)}},
		{"padding-excluded", padded, v4UDP},
		{"cut-by-snaplen", cut, want{et: 0x0800, ver: 4, proto: 6, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 34, end: len(cut), cut: true}},
		{"ipv4-first-fragment", frag4, func() want { w := v4UDP; w.frag = true; return w }()},
		{"ipv4-later-fragment", later4, want{et: 0x0800, ver: 4, proto: 17, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 34, end: 42 + len(payload), frag: true, fragOffset: 3}},
		{"ipv4-header-too-short", badIHL, want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: len(badIHL)}},
		{"ipv4-header-past-the-frame", longIHL, want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: len(longIHL)}},
		{"ipv4-options-cut-by-snaplen", optionsCut, want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: 36}},
		{"runt", udp4[:13], want{l3: 13, l4: 13, payload: 13, end: 13}},
		{"ipv4-header-cut", udp4[:14+19], want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: 33}},
		{"ipv4-header-cut-before-its-length", udp4[:14+3], want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: 17}},
		{"ipv4-total-length-under-header", shortTotal, want{et: 0x0800, l3: 14, l4: 14, payload: 14, end: len(shortTotal)}},
		{"three-tags-two-skipped", threeTags, want{et: 0x8100, tags: 2, l3: 22, l4: 22, payload: 22, end: len(threeTags)}},
		{"vlan-tag-ends-the-frame", tagOnly, want{et: 0x0800, tags: 1, l3: 18, l4: 18, payload: 18, end: 18}},
		{"udp-header-cut-by-ip-length", udpCut, want{et: 0x0800, ver: 4, proto: 17, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 34, end: 41}},
		{"tcp-data-offset-under-header", tcpShortOff, want{et: 0x0800, ver: 4, proto: 6, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 34, end: len(tcp4)}},
		{"tcp-options-cut-by-ip-length", tcpOptsCut, want{et: 0x0800, ver: 4, proto: 6, src: v4A, dst: v4B, l3: 14, l4: 34, payload: 34, end: 57}},
		{"ipv6-routing-header-cut", routingCut, want{et: 0x86dd, ver: 6, src: v6A, dst: v6B, l3: 14, l4: 14, payload: 14, end: 61}},
		{"ipv6-hop-by-hop-past-the-packet", hbhLong, want{et: 0x86dd, ver: 6, src: v6A, dst: v6B, l3: 14, l4: 14, payload: 14, end: len(hbhLong)}},
		{"ipv6-8-extension-headers-walked", ext8, want{et: 0x86dd, ver: 6, proto: 17, src: v6A, dst: v6B, l3: 14, l4: 54 + 64, payload: 54 + 72, end: len(ext8),
			ports: true, sport: 37020, dport: 37020}},
		{"ipv6-9-extension-headers-too-many", ext9, want{et: 0x86dd, ver: 6, src: v6A, dst: v6B, l3: 14, l4: 14, payload: 14, end: len(ext9)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h packet.Headers
			packet.Parse(tc.frame, &h)
			w := tc.want
			got := want{h.EtherType, h.VLANTags, h.IPVersion, h.Proto, h.Src, h.Dst, h.L3, h.L4, h.Payload, h.End,
				h.Fragment, h.FragOffset, h.Cut, h.HasPorts, h.TCP, h.SrcPort, h.DstPort, h.TCPFlags, h.Routed}
			if got != w {
				t.Errorf("got Parse = %+v, want %+v", got, w)
			}
			if len(tc.frame) >= 14 && (h.DstMAC != [6]byte(macB) || h.SrcMAC != [6]byte(macA)) {
				t.Errorf("got MACs %x %x, want %s %s", h.DstMAC, h.SrcMAC, macB, macA)
			}
			var addrs []byte
			if w.ver != 0 {
				addrs = append(w.src.AsSlice(), w.dst.AsSlice()...)
			}
			if got := h.AddrBytes(tc.frame); !bytes.Equal(got, addrs) {
				t.Errorf("got AddrBytes = %x, want %x", got, addrs)
			}
		})
	}
}

// TestTCPNumbersAndUDPPayload: sequence numbers, and the UDP payload the
// length field bounds.
func TestTCPNumbersAndUDPPayload(t *testing.T) {
	var h packet.Headers
	packet.Parse(build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload), &h)
	if h.Seq != 1000 || h.Ack != 2000 {
		t.Errorf("got seq %d ack %d, want 1000 and 2000", h.Seq, h.Ack)
	}
	f := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)
	packet.Parse(f, &h)
	if got := h.UDPPayload(f); string(got) != string(payload) {
		t.Errorf("got UDP payload %q, want %q", got, payload)
	}
	binary.BigEndian.PutUint16(f[34+4:], 8+4) // a length shorter than the packet
	packet.Parse(f, &h)
	if got := h.UDPPayload(f); string(got) != "NXSB" {
		t.Errorf("got UDP payload %q with length 12, want %q", got, "NXSB")
	}
	cut := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)[:42+4] // snaplen
	packet.Parse(cut, &h)
	if got := h.UDPPayload(cut); string(got) != "NXSB" || !h.UDPLenOK() {
		t.Errorf("got UDP payload %q and length ok %v from a frame cut after 4 bytes of it, want %q and ok", got, h.UDPLenOK(), "NXSB")
	}
	empty := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp())
	packet.Parse(empty, &h)
	if got := h.UDPPayload(empty); got == nil || len(got) != 0 || !h.UDPLenOK() {
		t.Errorf("got UDP payload %q (nil %v) and length ok %v with length 8, want an empty payload and ok", got, got == nil, h.UDPLenOK())
	}
	binary.BigEndian.PutUint16(f[34+4:], 7) // shorter than the header
	packet.Parse(f, &h)
	if got := h.UDPPayload(f); got != nil || h.UDPLenOK() {
		t.Errorf("got UDP payload %q and length ok %v with length 7, want none", got, h.UDPLenOK())
	}
	// One byte past an IP packet that ends the frame: nothing to read past it.
	past := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)
	n := 42 + len(payload)
	past = past[:n:n] // no Ethernet padding
	binary.BigEndian.PutUint16(past[34+4:], uint16(8+len(payload)+1))
	packet.Parse(past, &h)
	if got := h.UDPPayload(past); got != nil || h.UDPLenOK() || !h.ChecksumsOK(past) {
		t.Errorf("got UDP payload %q, length ok %v, ChecksumsOK %v with a length 1 past the packet, want none, false, true (nothing to check)",
			got, h.UDPLenOK(), h.ChecksumsOK(past))
	}
}

func TestChecksumsOK(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		flip  int // a byte to change; -1 none
		want  bool
	}{
		{"ipv4-udp", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), -1, true},
		{"ipv4-udp-payload-changed", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), 45, false},
		{"ipv4-header-changed", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), 14 + 8, false},
		{"ipv4-tcp", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload), -1, true},
		{"ipv4-tcp-changed", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload), 60, false},
		{"ipv6-udp", build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload), -1, true},
		{"ipv6-udp-address-changed", build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload), 14 + 30, false},
		{"ipv6-tcp", build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload), -1, true},
		{"ipv6-tcp-changed", build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload), 80, false},
		{"ipv4-udp-empty-checksum-changed", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp()), 34 + 7, false},
		{"arp-has-none", build(t, eth(layers.EthernetTypeARP), gopacket.Payload(make([]byte, 28))), 20, true},
		// A bare SYN is 58 bytes, padded to 60: the padding is not the segment's.
		{"ipv4-tcp-padding-changed", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp()), 59, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.flip >= 0 {
				tc.frame[tc.flip] ^= 0x10
			}
			var h packet.Headers
			packet.Parse(tc.frame, &h)
			if got := h.ChecksumsOK(tc.frame); got != tc.want {
				t.Errorf("got ChecksumsOK = %v, want %v", got, tc.want)
			}
		})
	}
	// A segment the frame holds only part of has no checksum to check: cut
	// by a snaplen, or in the first fragment of its packet.
	cut := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload)
	cut = cut[:len(cut)-4]
	first := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload)
	first = first[:len(first)-4]
	binary.BigEndian.PutUint16(first[14+2:], uint16(len(first)-14))
	binary.BigEndian.PutUint16(first[14+6:], 0x2000) // MF, offset 0
	binary.BigEndian.PutUint16(first[14+10:], 0)
	binary.BigEndian.PutUint16(first[14+10:], packet.Checksum(first[14:14+20]))
	for name, f := range map[string][]byte{"cut-by-snaplen": cut, "first-fragment": first} {
		var h packet.Headers
		if packet.Parse(f, &h); !h.HasPorts || !h.ChecksumsOK(f) {
			t.Errorf("%s: got ports %v, ChecksumsOK %v for part of a TCP segment, want ports and true (nothing to check)", name, h.HasPorts, h.ChecksumsOK(f))
		}
	}
	// A UDP checksum covers the UDP length, as a receiving stack trims
	// to it, not bytes after it inside the IP packet.
	short := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("NXSB"))
	short = append(short[:14+20+12:14+20+12], "tail"...)
	binary.BigEndian.PutUint16(short[14+2:], 20+12+4)
	binary.BigEndian.PutUint16(short[14+10:], 0)
	binary.BigEndian.PutUint16(short[14+10:], packet.Checksum(short[14:14+20]))
	var hs packet.Headers
	if packet.Parse(short, &hs); hs.UDPLen != 12 || hs.End != len(short) || !hs.ChecksumsOK(short) {
		t.Errorf("got UDP length %d, end %d, ChecksumsOK %v for a datagram shorter than its packet, want 12, %d, true",
			hs.UDPLen, hs.End, hs.ChecksumsOK(short), len(short))
	}
	// UDP over IPv4 may carry no checksum; over IPv6 it must.
	f := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)
	binary.BigEndian.PutUint16(f[34+6:], 0)
	var h packet.Headers
	if packet.Parse(f, &h); !h.ChecksumsOK(f) {
		t.Error("got a zero UDP checksum over IPv4 refused, want none checked")
	}
	f = build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload)
	binary.BigEndian.PutUint16(f[54+6:], 0)
	if packet.Parse(f, &h); h.ChecksumsOK(f) {
		t.Error("got a zero UDP checksum over IPv6 accepted, want it refused")
	}
}

// An IPv6 packet on its way along a routing header sums its final
// destination, which the routing header holds (RFC 8200 8.1), into its
// transport checksum: Routed, and nothing ChecksumsOK can check. With no
// segments left the IPv6 destination is the final one, and is checked.
func TestChecksumsOKRouted(t *testing.T) {
	final := netip.MustParseAddr("fd00::c")
	direct := ip6(layers.IPProtocolUDP)
	direct.DstIP = final.AsSlice()
	seg := build(t, eth(layers.EthernetTypeIPv6), direct, udp(), payload)[54:] // UDP summed over the final destination
	for _, tc := range []struct {
		left   byte
		routed bool
		ok     bool
	}{{1, true, true}, {0, false, false}} {
		rh := append([]byte{byte(layers.IPProtocolUDP), 2, 2, tc.left, 0, 0, 0, 0}, final.AsSlice()...) // type 2, one address
		f := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Routing), gopacket.Payload(append(rh, seg...)))
		var h packet.Headers
		packet.Parse(f, &h)
		if !h.HasPorts || h.Routed != tc.routed || h.ChecksumsOK(f) != tc.ok {
			t.Errorf("segments left %d: got ports %v, Routed %v, ChecksumsOK %v; want ports, Routed %v, ChecksumsOK %v",
				tc.left, h.HasPorts, h.Routed, h.ChecksumsOK(f), tc.routed, tc.ok)
		}
	}
}

// TestChecksum: RFC 1071's example, and a message carrying its checksum
// sums to zero.
func TestChecksum(t *testing.T) {
	if got, want := packet.Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), ^uint16(0xddf2); got != want {
		t.Errorf("got Checksum = %#04x, want %#04x", got, want)
	}
	msg := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g', '!'}
	binary.BigEndian.PutUint16(msg[2:], packet.Checksum(msg))
	if got := packet.Checksum(msg); got != 0 {
		t.Errorf("got Checksum of a checksummed message = %#04x, want 0", got)
	}
}

// TestUpdateChecksum is a differential test against recomputing: any
// change of aligned bytes updates the checksum to what a full computation
// gives.
func TestUpdateChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, 2+2*rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		sum := packet.Checksum(b)
		at := 2 * rng.IntN(len(b)/2)
		n := 2 * (1 + rng.IntN((len(b)-at)/2))
		old := bytes.Clone(b[at : at+n])
		for i := at; i < at+n; i++ {
			b[i] = byte(rng.Uint32())
		}
		if got, want := packet.UpdateChecksum(sum, old, b[at:at+n]), packet.Checksum(b); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("got UpdateChecksum = %#04x, want %#04x (recomputed)", got, want)
		}
	}
}

func arpFrame(op uint16, hwType uint16) []byte {
	f := make([]byte, 60) // padded as on the wire
	copy(f[0:6], macB)
	copy(f[6:12], macA)
	binary.BigEndian.PutUint16(f[12:], packet.EtherTypeARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], hwType)
	binary.BigEndian.PutUint16(a[2:], packet.EtherTypeIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:], macA)
	copy(a[14:], v4A.AsSlice())
	copy(a[24:], v4B.AsSlice())
	return f
}

func TestARP(t *testing.T) {
	tagged := build(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeARP},
		gopacket.Payload(arpFrame(2, 1)[14:14+28]))
	for _, tc := range []struct {
		name  string
		frame []byte
		op    uint16 // 0: no ARP
	}{
		{"request", arpFrame(1, 1), 1},
		{"reply-tagged", tagged, 2},
		{"cut", arpFrame(1, 1)[:14+27], 0},
		{"not-ethernet", arpFrame(1, 6), 0},
		{"ipv4", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h packet.Headers
			packet.Parse(tc.frame, &h)
			a := h.ARP(tc.frame)
			if tc.op == 0 {
				if a != nil {
					t.Errorf("got ARP % x, want none", []byte(a))
				}
				return
			}
			if a == nil {
				t.Fatal("got no ARP, want one")
			}
			if uint16(a.Op()) != tc.op || !bytes.Equal(a.HardwareAddressSender(), macA) ||
				!bytes.Equal(a.ProtocolAddressSender(), v4A.AsSlice()) || !bytes.Equal(a.ProtocolAddressTarget(), v4B.AsSlice()) {
				t.Errorf("got ARP op %d sender %x %x target %x, want op %d from %s %s for %s",
					a.Op(), a.HardwareAddressSender(), a.ProtocolAddressSender(), a.ProtocolAddressTarget(), tc.op, macA, v4A, v4B)
			}
			if len(a) != 28 {
				t.Errorf("got an ARP view of %d bytes, want 28 (the padding left out)", len(a))
			}
		})
	}
}

func TestICMP(t *testing.T) {
	echo4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 2}, payload)
	later := bytes.Clone(echo4)
	binary.BigEndian.PutUint16(later[14+6:], 0x0001) // offset 8 bytes
	first := bytes.Clone(echo4)
	binary.BigEndian.PutUint16(first[14+6:], 0x2000) // MF, offset 0
	ip6icmp := ip6(layers.IPProtocolICMPv6)
	icmp6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	icmp6.SetNetworkLayerForChecksum(ip6icmp)
	echo6 := build(t, eth(layers.EthernetTypeIPv6), ip6icmp, icmp6, gopacket.Payload{0, 1, 0, 2})
	for _, tc := range []struct {
		name       string
		frame      []byte
		v4, v6     int // the view's length, -1 for none
		typ4, typ6 uint8
	}{
		{"echo-request", echo4, 8 + len(payload), -1, 8, 0},
		{"first-fragment", first, 8 + len(payload), -1, 8, 0},
		{"later-fragment", later, -1, -1, 0, 0},
		{"header-cut", echo4[:14+20+7], -1, -1, 0, 0},
		{"icmpv6-echo-request", echo6, -1, 8, 0, 128},
		{"udp", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload), -1, -1, 0, 0},
		{"icmpv6-later-fragment", ipv6Ext(t, layers.IPProtocolICMPv6, []byte{128, 0, 0, 0, 0, 1, 0, 2}, 1, false), -1, -1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h packet.Headers
			packet.Parse(tc.frame, &h)
			m4, m6 := h.ICMPv4(tc.frame), h.ICMPv6(tc.frame)
			got4, got6 := -1, -1
			if m4 != nil {
				got4 = len(m4)
				if uint8(m4.Type()) != tc.typ4 {
					t.Errorf("got ICMP type %d, want %d", m4.Type(), tc.typ4)
				}
			}
			if m6 != nil {
				got6 = len(m6)
				if uint8(m6.Type()) != tc.typ6 {
					t.Errorf("got ICMPv6 type %d, want %d", m6.Type(), tc.typ6)
				}
			}
			if got4 != tc.v4 || got6 != tc.v6 {
				t.Errorf("got ICMPv4 of %d bytes and ICMPv6 of %d, want %d and %d", got4, got6, tc.v4, tc.v6)
			}
		})
	}
}

// icmpError is an ICMP (over IPv4) or ICMPv6 (over IPv6) error of type
// typ quoting quoted, sent from b to a.
func icmpError(t testing.TB, v6 bool, typ uint8, quoted []byte) []byte {
	t.Helper()
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: v6B.AsSlice(), DstIP: v6A.AsSlice()}
		m := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 4)}
		m.SetNetworkLayerForChecksum(ip)
		return build(t, eth(layers.EthernetTypeIPv6), ip, m, gopacket.Payload(append(make([]byte, 4), quoted...)))
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: v4B.AsSlice(), DstIP: v4A.AsSlice()}
	return build(t, eth(layers.EthernetTypeIPv4), ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 3)}, gopacket.Payload(quoted))
}

// udp6Ext is an IPv6 UDP datagram (from the IPv6 header on) behind a
// hop-by-hop and a fragment header at offset (more to come).
func udp6Ext(t testing.TB, offset uint16) []byte {
	udpHdr := binary.BigEndian.AppendUint16(nil, 40000)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 53)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, uint16(8+len(payload)))
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 0x1234)
	inner := append(udpHdr, payload...)
	if offset != 0 {
		inner = payload
	}
	return ipv6Ext(t, layers.IPProtocolUDP, inner, offset, true)[14:]
}

func TestParseQuoted(t *testing.T) {
	udp4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)[14:]
	tcp4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload)[14:]
	udp6 := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload)[14:]
	ext6 := udp6Ext(t, 0)
	later6 := udp6Ext(t, 2)
	// RFC 4884: the quote padded to 128 bytes, an extension structure after.
	padded := append(bytes.Clone(udp4[:20+8+len(payload)]), make([]byte, 128-20-8-len(payload)+8)...)
	// Where the quote starts.
	const q4, q6 = 14 + 20 + 8, 14 + 40 + 8

	type want struct {
		ok, cut, ports, tcp  bool
		ver, proto           uint8
		src, dst             netip.Addr
		l3, l4, payload, end int
		fragOffset           uint16
		sport, dport         uint16
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  want
	}{
		{"port-unreachable-udp", icmpError(t, false, 3, udp4[:20+8]),
			want{ok: true, ver: 4, proto: 17, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 28, end: q4 + 28, cut: true, ports: true, sport: 37020, dport: 37020}},
		{"trailer-after-the-packet-left-out", append(icmpError(t, false, 3, udp4[:20+8]), 0xde, 0xad, 0xbe, 0xef),
			want{ok: true, ver: 4, proto: 17, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 28, end: q4 + 28, cut: true, ports: true, sport: 37020, dport: 37020}},
		{"source-quench-udp", icmpError(t, false, 4, udp4[:20+8]),
			want{ok: true, ver: 4, proto: 17, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 28, end: q4 + 28, cut: true, ports: true, sport: 37020, dport: 37020}},
		{"time-exceeded-whole-udp", icmpError(t, false, 11, udp4[:20+8+len(payload)]),
			want{ok: true, ver: 4, proto: 17, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 28, end: q4 + 28 + len(payload), ports: true, sport: 37020, dport: 37020}},
		{"rfc4884-padding-left-out", icmpError(t, false, 3, padded),
			want{ok: true, ver: 4, proto: 17, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 28, end: q4 + 28 + len(payload), ports: true, sport: 37020, dport: 37020}},
		// Only 8 bytes of TCP: the ports are there but not a whole header.
		{"unreachable-tcp-8-bytes", icmpError(t, false, 3, tcp4[:28]),
			want{ok: true, ver: 4, proto: 6, src: v4A, dst: v4B, l3: q4, l4: q4 + 20, payload: q4 + 20, end: q4 + 28, cut: true}},
		{"icmpv6-unreachable-udp", icmpError(t, true, 1, udp6[:40+8]),
			want{ok: true, ver: 6, proto: 17, src: v6A, dst: v6B, l3: q6, l4: q6 + 40, payload: q6 + 48, end: q6 + 48, cut: true, ports: true, sport: 37020, dport: 37020}},
		{"packet-too-big-extension-headers", icmpError(t, true, 2, ext6[:40+16+8+4]),
			want{ok: true, ver: 6, proto: 17, src: v6A, dst: v6B, l3: q6, l4: q6 + 56, payload: q6 + 64, end: q6 + 68, cut: true, ports: true, sport: 40000, dport: 53}},
		{"later-fragment-no-ports", icmpError(t, true, 3, later6[:40+16+4]),
			want{ok: true, ver: 6, proto: 17, src: v6A, dst: v6B, l3: q6, l4: q6 + 56, payload: q6 + 56, end: q6 + 60, cut: true, fragOffset: 2}},
		{"extension-header-cut", icmpError(t, true, 1, ext6[:40+12]),
			want{ok: true, ver: 6, src: v6A, dst: v6B, l3: q6, l4: q6, payload: q6, cut: true, end: q6 + 52}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h, q packet.Headers
			packet.Parse(tc.frame, &h)
			ok := h.ParseQuoted(tc.frame, &q)
			got := want{ok, q.Cut, q.HasPorts, q.TCP, q.IPVersion, q.Proto, q.Src, q.Dst, q.L3, q.L4, q.Payload, q.End, q.FragOffset, q.SrcPort, q.DstPort}
			if got != tc.want {
				t.Errorf("got ParseQuoted = %+v, want %+v", got, tc.want)
			}
			if got, want := q.AddrBytes(tc.frame), append(tc.want.src.AsSlice(), tc.want.dst.AsSlice()...); !bytes.Equal(got, want) {
				t.Errorf("got AddrBytes = %x, want %x", got, want)
			}
			if wantET := map[uint8]uint16{4: packet.EtherTypeIPv4, 6: packet.EtherTypeIPv6}[q.IPVersion]; q.EtherType != wantET {
				t.Errorf("got EtherType %#04x, want %#04x", q.EtherType, wantET)
			}
		})
	}

	echo := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)}, gopacket.Payload(udp4))
	laterFrag := icmpError(t, false, 3, udp4[:28])
	binary.BigEndian.PutUint16(laterFrag[14+6:], 0x0001)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"echo-request", echo},
		{"icmpv4-quoting-ipv6", icmpError(t, false, 3, udp6[:48])},
		{"icmpv6-quoting-ipv4", icmpError(t, true, 1, udp4[:28])},
		{"quoted-header-cut", icmpError(t, false, 11, udp4[:19])},
		{"icmpv6-echo-request-type-128", icmpError(t, true, 128, udp6[:48])},
		{"later-fragment", laterFrag},
		{"udp", build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload(udp4))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h packet.Headers
			packet.Parse(tc.frame, &h)
			q := packet.Headers{IPVersion: 9, L3: -1}
			if h.ParseQuoted(tc.frame, &q) {
				t.Fatalf("got a quoted header %+v, want none", q)
			}
			if q != (packet.Headers{L3: h.End, L4: h.End, Payload: h.End, End: h.End}) {
				t.Errorf("got %+v, want empty headers at %d", q, h.End)
			}
		})
	}
}

// TestParseQuotedEveryErrorType: every ICMP and ICMPv6 error type quotes the packet that caused it.
func TestParseQuotedEveryErrorType(t *testing.T) {
	udp4 := build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)[14:]
	udp6 := build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload)[14:]
	for _, tc := range []struct {
		name string
		v6   bool
		typ  uint8
	}{
		{"icmp-destination-unreachable", false, 3}, {"icmp-source-quench", false, 4}, {"icmp-redirect", false, 5},
		{"icmp-time-exceeded", false, 11}, {"icmp-parameter-problem", false, 12},
		{"icmpv6-destination-unreachable", true, 1}, {"icmpv6-packet-too-big", true, 2},
		{"icmpv6-time-exceeded", true, 3}, {"icmpv6-parameter-problem", true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			quoted := udp4[:20+8]
			if tc.v6 {
				quoted = udp6[:40+8]
			}
			f := icmpError(t, tc.v6, tc.typ, quoted)
			var h, q packet.Headers
			packet.Parse(f, &h)
			if ok := h.ParseQuoted(f, &q); !ok || !q.HasPorts || q.SrcPort != 37020 || q.DstPort != 37020 {
				t.Errorf("got ParseQuoted = %v with ports %v %d->%d, want the quoted UDP header's 37020->37020", ok, q.HasPorts, q.SrcPort, q.DstPort)
			}
		})
	}
}

// TestParseDoesNotAllocate pins the parser, the checksum check and the
// accessors at zero allocations: the policy parses every frame a rule
// looks into.
func TestParseDoesNotAllocate(t *testing.T) {
	frames := [][]byte{
		build(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload),
		build(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(), payload),
	}
	quoting := icmpError(t, true, 2, udp6Ext(t, 0)[:40+16+8+4])
	var h, q packet.Headers
	n := testing.AllocsPerRun(1000, func() {
		for _, f := range frames {
			packet.Parse(f, &h)
			if !h.ChecksumsOK(f) {
				t.Fatal("checksum")
			}
		}
		packet.Parse(quoting, &h)
		if h.ICMPv6(quoting) == nil || !h.ParseQuoted(quoting, &q) || h.ARP(quoting) != nil {
			t.Fatal("quoted header")
		}
	})
	if n != 0 {
		t.Errorf("got %v allocations per parse, want 0", n)
	}
}

// FuzzParse holds Parse to its contract on any bytes: it does not panic,
// its offsets are ordered and inside the frame, a parsed transport header
// lies within the IP packet, and the checksum check, UDP payload and the
// ARP and ICMP views stay in bounds. ParseQuoted is held to the same
// contract within the ICMP message.
func FuzzParse(f *testing.F) {
	f.Add(build(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload))
	f.Add(build(f, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(), payload))
	f.Add(build(f, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{Type: layers.EthernetTypeIPv4},
		ip4(layers.IPProtocolTCP), tcp(), payload))
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	f.Add(append(make([]byte, 12), 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 0, 1))
	f.Add(arpFrame(1, 1))
	f.Add(build(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)}, payload))
	f.Add(icmpError(f, false, 3, build(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), payload)[14:14+28]))
	f.Add(icmpError(f, true, 2, udp6Ext(f, 0)[:40+16+8+4]))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var h packet.Headers
		packet.Parse(frame, &h)
		checkHeaders(t, frame, &h, 0, len(frame))
		if h.VLANTags > packet.MaxVLANTags {
			t.Fatalf("%d VLAN tags skipped", h.VLANTags)
		}
		if a := h.ARP(frame); a != nil && (h.EtherType != packet.EtherTypeARP || len(a) != 28) {
			t.Fatalf("an ARP view of %d bytes in a frame of EtherType %#04x", len(a), h.EtherType)
		}
		if m := h.ICMPv4(frame); m != nil && (len(m) < 8 || h.L4+len(m) != h.End || h.Proto != packet.ProtoICMP) {
			t.Fatalf("an ICMP view of %d bytes from %d in a packet ending at %d", len(m), h.L4, h.End)
		}
		if m := h.ICMPv6(frame); m != nil && (len(m) < 8 || h.L4+len(m) != h.End || h.Proto != packet.ProtoICMPv6) {
			t.Fatalf("an ICMPv6 view of %d bytes from %d in a packet ending at %d", len(m), h.L4, h.End)
		}
		var q packet.Headers
		if !h.ParseQuoted(frame, &q) {
			if q != (packet.Headers{L3: h.End, L4: h.End, Payload: h.End, End: h.End}) {
				t.Fatalf("got %+v without a quoted header, want empty headers at %d", q, h.End)
			}
			return
		}
		if a := q.AddrBytes(frame); q.IPVersion != h.IPVersion || q.L3 != h.L4+8 || len(a) != 8 && len(a) != 32 {
			t.Fatalf("a quoted IPv%d header at %d in an IPv%d message at %d", q.IPVersion, q.L3, h.IPVersion, h.L4)
		}
		checkHeaders(t, frame, &q, h.L4+8, h.End)
	})
}

// checkHeaders holds h, parsed from frame, to Parse's contract: offsets
// ordered and within from..to, a transport header within the IP packet,
// nothing above IP without it, and the checksum check and the UDP payload
// in bounds.
func checkHeaders(t *testing.T, frame []byte, h *packet.Headers, from, to int) {
	t.Helper()
	if !(from <= h.L3 && h.L3 <= h.L4 && h.L4 <= h.Payload && h.Payload <= to && h.End <= to) {
		t.Fatalf("offsets L3 %d L4 %d payload %d end %d out of order or outside %d..%d", h.L3, h.L4, h.Payload, h.End, from, to)
	}
	if h.IPVersion != 0 && (h.L4 > h.End || h.Payload > h.End) {
		t.Fatalf("IP packet ends at %d, before its L4 %d or payload %d", h.End, h.L4, h.Payload)
	}
	if h.HasPorts && h.Payload < h.L4+8 {
		t.Fatalf("a transport header of %d bytes", h.Payload-h.L4)
	}
	if h.IPVersion == 0 && (h.HasPorts || h.Src.IsValid()) {
		t.Fatal("transport or addresses without an IP header")
	}
	if a := h.AddrBytes(frame); (h.IPVersion == 0) != (a == nil) {
		t.Fatalf("got addresses %x for IP version %d", a, h.IPVersion)
	}
	h.ChecksumsOK(frame)
	if p := h.UDPPayload(frame); len(p) > to-h.Payload {
		t.Fatal("UDP payload past the IP packet")
	}
}

// BenchmarkParse parses the frames the policy looks into most: TCP over
// IPv4, a UDP announce over IPv4 behind a VLAN tag, and UDP over IPv6
// behind a hop-by-hop and a fragment header.
func BenchmarkParse(b *testing.B) {
	var udpHdr []byte
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 37020)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 37020)
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, uint16(8+len(payload)))
	udpHdr = binary.BigEndian.AppendUint16(udpHdr, 0)
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"ipv4-tcp", build(b, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(), payload)},
		{"vlan-ipv4-udp", build(b, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, ip4(layers.IPProtocolUDP), udp(), payload)},
		{"ipv6-ext-udp", ipv6Ext(b, layers.IPProtocolUDP, append(udpHdr, payload...), 0, true)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			var h packet.Headers
			for b.Loop() {
				packet.Parse(bc.frame, &h)
			}
		})
	}
}
