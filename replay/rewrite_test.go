package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"l2hub/packet"
)

// reserialize decodes frame with gopacket and serializes its layers again
// with lengths and checksums computed: equal bytes mean every checksum in
// frame was right.
func reserialize(t *testing.T, frame []byte) []byte {
	t.Helper()
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode the rewritten frame: %v", el.Error())
	}
	var ls []gopacket.SerializableLayer
	var ip *layers.IPv4
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			ip = l
		case *layers.TCP:
			l.SetNetworkLayerForChecksum(ip)
		case *layers.UDP:
			l.SetNetworkLayerForChecksum(ip)
		}
		sl, ok := l.(gopacket.SerializableLayer)
		if !ok {
			t.Fatalf("layer %v cannot be serialized", l.LayerType())
		}
		ls = append(ls, sl)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if len(out) < len(frame) { // Ethernet padding
		out = append(out, frame[len(out):]...)
	}
	return out
}

func TestRewrite(t *testing.T) {
	macX := [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x0c}
	ipX := net.IPv4(10, 42, 0, 12)
	rw, err := NewRewriter(
		[]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"},
		[]string{"10.42.0.11=10.42.0.12"},
	)
	if err != nil {
		t.Fatal(err)
	}
	vlanUDP := func() []byte {
		eth := &layers.Ethernet{SrcMAC: macA[:], DstMAC: macB[:], EthernetType: layers.EthernetTypeDot1Q}
		tag := &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipA.To4(), DstIP: ipB.To4()}
		udp := &layers.UDP{SrcPort: 1, DstPort: 2}
		udp.SetNetworkLayerForChecksum(ip)
		return serialize(t, eth, tag, ip, udp, gopacket.Payload("tagged"))
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"udp-to-b", udpFrame(t, macA, macB, ipA, ipB, 37020, 37020, 1, "NXSB")},
		{"udp-from-b", udpFrame(t, macB, macA, ipB, ipA, 34568, 40010, 2, "reply")},
		{"tcp-syn-to-b", tcpFrame(t, macA, macB, ipA, ipB, 40010, 34568, 77, true, "")},
		{"tcp-data-from-b", tcpFrame(t, macB, macA, ipB, ipA, 34568, 40010, 78, false, "ladder record")},
		{"icmp-echo-to-b", icmpFrame(t, macA, macB, ipA, ipB, 3)},
		{"icmp-unreachable-quoting-b", icmpUnreachable(t)},
		{"arp-for-b", arpFrame(t, macA, ipA, ipB)},
		{"vlan-udp-to-b", vlanUDP()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := bytes.Clone(tc.frame)
			if !rw.Rewrite(f) {
				t.Fatal("Rewrite reported no change")
			}
			if bytes.Contains(f, macB[:]) || bytes.Contains(f, ipB.To4()) {
				t.Errorf("b's MAC or address is still in the rewritten frame % x", f)
			}
			if !bytes.Contains(f, macX[:]) && !bytes.Contains(f, ipX.To4()) {
				t.Errorf("neither the new MAC nor the new address is in % x", f)
			}
			if got := reserialize(t, f); !bytes.Equal(got, f) {
				t.Errorf("checksums are wrong after rewriting:\n got  % x\n want % x", f, got)
			}
			if tc.name == "icmp-unreachable-quoting-b" {
				inner := f[14+20+8:]
				if sum := inetSum(inner[:20]); sum != 0xffff && sum != 0 {
					t.Errorf("quoted IPv4 header checksum does not verify (sum %#04x)", sum)
				}
			}
			// The rewritten frame is what one built with the new addresses
			// would be, bit for bit: rewriting back restores the original.
			back, err := NewRewriter([]string{"52:54:00:12:34:0c=52:54:00:12:34:0b"}, []string{"10.42.0.12=10.42.0.11"})
			if err != nil {
				t.Fatal(err)
			}
			back.Rewrite(f)
			if !bytes.Equal(f, tc.frame) {
				t.Errorf("rewriting back gave\n % x\nwant\n % x", f, tc.frame)
			}
		})
	}
}

// TestRewriteFirstFragment: the first fragment of a fragmented datagram
// carries the UDP checksum of the whole datagram, which cannot be
// recomputed from the fragment; the incremental update must match what the
// whole rewritten datagram's checksum is.
func TestRewriteFirstFragment(t *testing.T) {
	payload := string(bytes.Repeat([]byte("0123456789abcdef"), 100))
	whole := udpFrame(t, macA, macB, ipA, ipB, 5000, 6000, 7, payload)
	wantWhole := udpFrame(t, macA, macB, ipA, net.IPv4(10, 42, 0, 12), 5000, 6000, 7, payload)
	frag := fragment(whole, 0, 1000)
	rw, err := NewRewriter(nil, []string{"10.42.0.11=10.42.0.12"})
	if err != nil {
		t.Fatal(err)
	}
	if !rw.Rewrite(frag) {
		t.Fatal("Rewrite reported no change")
	}
	if got, want := binary.BigEndian.Uint16(frag[14+20+6:]), binary.BigEndian.Uint16(wantWhole[14+20+6:]); got != want {
		t.Errorf("got UDP checksum %#04x in the first fragment, want the whole datagram's %#04x", got, want)
	}
	if sum := inetSum(frag[14 : 14+20]); sum != 0xffff && sum != 0 {
		t.Errorf("IPv4 header checksum does not verify (sum %#04x)", sum)
	}
	pkt := gopacket.NewPacket(frag, layers.LayerTypeEthernet, gopacket.Default)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil || !ip.DstIP.Equal(net.IPv4(10, 42, 0, 12)) || ip.Flags&layers.IPv4MoreFragments == 0 {
		t.Errorf("gopacket decodes the fragment as %v, want a first fragment to 10.42.0.12", ip)
	}
}

// fragment cuts an IPv4 frame (of a 20-byte IPv4 header) to the fragment
// of n payload bytes at offset off (a multiple of 8), more to follow.
func fragment(frame []byte, off, n int) []byte {
	f := append(bytes.Clone(frame[:14+20]), frame[14+20+off:14+20+off+n]...)
	h := f[14:]
	binary.BigEndian.PutUint16(h[2:], uint16(20+n))
	binary.BigEndian.PutUint16(h[6:], 0x2000|uint16(off/8)) // more fragments
	binary.BigEndian.PutUint16(h[10:], 0)
	binary.BigEndian.PutUint16(h[10:], ^inetSum(h[:20]))
	return f
}

// TestRewriteLeavesLaterFragmentsData: a later IPv4 fragment carries no
// transport header, so rewriting its addresses fixes only the IPv4
// header's checksum: the data where a first fragment's UDP or TCP
// checksum would be (bytes 6-7, 16-17) is the datagram's, and stays as
// it is.
func TestRewriteLeavesLaterFragmentsData(t *testing.T) {
	payload := string(bytes.Repeat([]byte("0123456789abcdef"), 100))
	for _, tc := range []struct {
		name  string
		whole []byte
	}{
		{"udp", udpFrame(t, macA, macB, ipA, ipB, 5000, 6000, 7, payload)},
		{"tcp", tcpFrame(t, macA, macB, ipA, ipB, 5000, 6000, 7, false, payload)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fragment(tc.whole, 1000, 200)
			data := bytes.Clone(f[14+20:])
			rw, err := NewRewriter(nil, []string{"10.42.0.11=10.42.0.12"})
			if err != nil {
				t.Fatal(err)
			}
			if !rw.Rewrite(f) {
				t.Fatal("Rewrite reported no change")
			}
			if !bytes.Equal(f[14+20:], data) {
				t.Errorf("got the later fragment's data starting % x, want it unchanged (% x)", f[14+20:14+20+20], data[:20])
			}
			if sum := inetSum(f[14 : 14+20]); sum != 0xffff && sum != 0 {
				t.Errorf("IPv4 header checksum does not verify (sum %#04x)", sum)
			}
			if !bytes.Equal(f[14+16:14+20], net.IPv4(10, 42, 0, 12).To4()) {
				t.Errorf("got destination % x, want 10.42.0.12", f[14+16:14+20])
			}
		})
	}
}

// TestRewriteNeverWritesAZeroUDPChecksum: a rewrite whose updated UDP
// checksum comes to zero writes 0xffff, its one's complement equal
// (RFC 768): a zero UDP checksum means "none", and the receiver would
// not check the datagram at all. The source port that makes it come to
// zero is searched for, each frame's checksum summed afresh.
func TestRewriteNeverWritesAZeroUDPChecksum(t *testing.T) {
	rw, err := NewRewriter(nil, []string{"10.42.0.11=10.42.0.12"})
	if err != nil {
		t.Fatal(err)
	}
	base := udpFrame(t, macA, macB, ipA, ipB, 0, 6000, 7, "x")
	udpLen := int(binary.BigEndian.Uint16(base[14+20+4:]))
	udp := func(f []byte) []byte { return f[14+20 : 14+20+udpLen] }
	f := bytes.Clone(base)
	for sport := range 1 << 16 {
		copy(f, base)
		binary.BigEndian.PutUint16(udp(f), uint16(sport))
		binary.BigEndian.PutUint16(udp(f)[6:], 0)
		sum := checksumOver(f[14+12:14+20], udp(f), packet.ProtoUDP)
		if sum == 0 {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(udp(f)[6:], sum)
		rw.Rewrite(f)
		switch got := binary.BigEndian.Uint16(udp(f)[6:]); {
		case got == 0:
			t.Fatalf("source port %d: got UDP checksum 0 (none) after the rewrite, want 0xffff", sport)
		case checksumOver(f[14+12:14+20], udp(f), packet.ProtoUDP) != 0:
			t.Fatalf("source port %d: got UDP checksum %#04x after the rewrite, which does not verify", sport, got)
		case got == 0xffff:
			return // the sum that comes to zero, written as 0xffff
		}
	}
	t.Fatal("no source port gives a checksum that updates to zero: pick other addresses")
}

func inetSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestNewRewriterErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		macs, ips []string
	}{
		{"mac-without-equals", []string{"52:54:00:12:34:0b"}, nil},
		{"bad-mac", []string{"52:54:00:12:34=52:54:00:12:34:0c"}, nil},
		{"eui-64", []string{"52:54:00:12:34:0b:00:01=52:54:00:12:34:0c"}, nil},
		{"mac-twice", []string{"02:00:00:00:00:01=02:00:00:00:00:02", "02:00:00:00:00:01=02:00:00:00:00:03"}, nil},
		{"ipv4-to-ipv6", nil, []string{"10.42.0.11=fd00::c"}},
		{"ipv6-zone", nil, []string{"fe80::1%eth0=fe80::2"}},
		{"bad-ip", nil, []string{"10.42.0=10.42.0.12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRewriter(tc.macs, tc.ips); !errors.Is(err, ErrRewrite) {
				t.Errorf("NewRewriter(%q, %q) = %v, want ErrRewrite", tc.macs, tc.ips, err)
			}
		})
	}
}

func TestRewriteLeavesOthersAlone(t *testing.T) {
	rw, _ := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, []string{"10.42.0.11=10.42.0.12"})
	f := udpFrame(t, macA, macC, ipA, ipC, 1, 2, 3, "unrelated")
	orig := bytes.Clone(f)
	for _, b := range [][]byte{f, f[:13], f[:20], f[:30]} {
		if rw.Rewrite(b) {
			t.Errorf("Rewrite changed a frame (%d bytes) with none of the addresses", len(b))
		}
	}
	if !bytes.Equal(f, orig) {
		t.Error("frame modified")
	}
}

// TestRewriteIPv6: IPv6 addresses are rewritten in the IPv6 header, in the
// header an ICMPv6 error quotes, and every checksum that sums them (TCP,
// UDP, ICMPv6) stays right; rewriting back restores the frame bit for bit.
func TestRewriteIPv6(t *testing.T) {
	a, b, x := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b"), netip.MustParseAddr("fd00::c")
	rw, err := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, []string{"fd00::b=fd00::c"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := NewRewriter([]string{"52:54:00:12:34:0c=52:54:00:12:34:0b"}, []string{"fd00::c=fd00::b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"udp-to-b", udp6Frame(t, macA, macB, a, b, 37020, 37020, "NXSB")},
		{"tcp-from-b", tcp6Frame(t, macB, macA, b, a, 34568, 40010, 78, "ladder record")},
		{"icmpv6-unreachable-from-b-quoting-b", icmpv6Unreachable(t, b, a, udp6Frame(t, macA, macB, a, b, 40000, 53, "query")[14:14+40+8+5])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := bytes.Clone(tc.frame)
			if !rw.Rewrite(f) {
				t.Fatal("Rewrite reported no change")
			}
			if bytes.Contains(f, b.AsSlice()) || !bytes.Contains(f, x.AsSlice()) {
				t.Errorf("got % x, want b's address replaced by the new one everywhere", f)
			}
			var h packet.Headers
			if packet.Parse(f, &h); !h.ChecksumsOK(f) {
				t.Errorf("TCP or UDP checksum wrong after rewriting: % x", f)
			}
			if h.Proto == packet.ProtoICMPv6 {
				msg := f[h.L4:h.End]
				sum := checksumOver(f[h.L3+8:h.L3+40], msg, packet.ProtoICMPv6)
				if sum != 0 {
					t.Errorf("ICMPv6 checksum wrong after rewriting (sum %#04x)", sum)
				}
				if inner := msg[8:]; !bytes.Equal(inner[24:40], x.AsSlice()) {
					t.Errorf("quoted destination %x, want %s", inner[24:40], x)
				}
			}
			back.Rewrite(f)
			if !bytes.Equal(f, tc.frame) {
				t.Errorf("rewriting back gave\n % x\nwant\n % x", f, tc.frame)
			}
		})
	}
}

// A packet on its way along a routing header sums its final destination
// (in the routing header) into its UDP checksum, not the waypoint in its
// IPv6 header: rewriting the waypoint leaves the checksum as it is.
func TestRewriteRoutedIPv6(t *testing.T) {
	a, b, final := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b"), netip.MustParseAddr("fd00::d")
	direct := udp6Frame(t, macA, macB, a, final, 37020, 37020, "NXSB")
	seg := direct[14+40:]
	rh := append([]byte{packet.ProtoUDP, 2, 2, 1, 0, 0, 0, 0}, final.AsSlice()...) // type 2, one segment left
	f := append(bytes.Clone(direct[:14+40]), rh...)
	f = append(f, seg...)
	ip := f[14:]
	binary.BigEndian.PutUint16(ip[4:], uint16(len(rh)+len(seg)))
	ip[6] = 43 // routing
	copy(ip[24:40], b.AsSlice())
	rw, err := NewRewriter(nil, []string{"fd00::b=fd00::c", "fd00::a=fd00::e"})
	if err != nil {
		t.Fatal(err)
	}
	if !rw.Rewrite(f) {
		t.Fatal("Rewrite reported no change")
	}
	var h packet.Headers
	if packet.Parse(f, &h); !h.Routed || !h.HasPorts {
		t.Fatalf("got Routed %v, ports %v; want a routed UDP packet", h.Routed, h.HasPorts)
	}
	if h.Dst != netip.MustParseAddr("fd00::c") || h.Src != netip.MustParseAddr("fd00::e") {
		t.Errorf("got %s -> %s, want fd00::e -> fd00::c", h.Src, h.Dst)
	}
	addrs := append(h.Src.AsSlice(), final.AsSlice()...)
	if sum := checksumOver(addrs, f[h.L4:h.End], packet.ProtoUDP); sum != 0 {
		t.Errorf("the UDP checksum over the new source and the final destination does not verify (sum %#04x)", sum)
	}
}

// checksumOver is the Internet checksum of an IPv6 upper-layer message with
// its pseudo-header (addrs: source and destination): 0 when it verifies.
func checksumOver(addrs, msg []byte, proto uint8) uint16 {
	pseudo := append(bytes.Clone(addrs), 0, 0, byte(len(msg)>>8), byte(len(msg)), 0, 0, 0, proto)
	return packet.Checksum(append(pseudo, msg...))
}

// icmpUnreachable is b's port unreachable for a's DNS query to b: the
// ICMP error quotes the query's IPv4 header, UDP header and 5 bytes.
func icmpUnreachable(tb testing.TB) []byte {
	quoted := udpFrame(tb, macA, macB, ipA, ipB, 40000, 53, 9, "query")[14:]
	eth := &layers.Ethernet{SrcMAC: macB[:], DstMAC: macA[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ipB.To4(), DstIP: ipA.To4()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}
	return serialize(tb, eth, ip, icmp, gopacket.Payload(quoted[:20+8+5]))
}

// icmpv6Unreachable is a port unreachable from src to dst (b's MAC to
// a's) quoting the IPv6 packet quoted.
func icmpv6Unreachable(tb testing.TB, src, dst netip.Addr, quoted []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: macB[:], DstMAC: macA[:], EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6CodePortUnreachable)}
	icmp.SetNetworkLayerForChecksum(ip)
	return serialize(tb, eth, ip, icmp, gopacket.Payload(append(make([]byte, 4), quoted...)))
}

// BenchmarkRewrite rewrites b's addresses to c's and back in frames of
// each kind the rewriter edits.
func BenchmarkRewrite(b *testing.B) {
	a6, b6 := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b")
	forth, err := NewRewriter([]string{"52:54:00:12:34:0b=52:54:00:12:34:0c"}, []string{"10.42.0.11=10.42.0.12", "fd00::b=fd00::c"})
	if err != nil {
		b.Fatal(err)
	}
	back, err := NewRewriter([]string{"52:54:00:12:34:0c=52:54:00:12:34:0b"}, []string{"10.42.0.12=10.42.0.11", "fd00::c=fd00::b"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"ipv4-udp", udpFrame(b, macA, macB, ipA, ipB, 37020, 37020, 1, "NXSB")},
		{"arp", arpFrame(b, macA, ipA, ipB)},
		{"icmp-unreachable", icmpUnreachable(b)},
		{"icmpv6-unreachable", icmpv6Unreachable(b, b6, a6, udp6Frame(b, macA, macB, a6, b6, 40000, 53, "query")[14:14+40+8+5])},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			f := bytes.Clone(bc.frame)
			for b.Loop() {
				if !forth.Rewrite(f) || !back.Rewrite(f) {
					b.Fatal("Rewrite reported no change")
				}
			}
		})
	}
}

// udp6Ext is an IPv6 UDP datagram (no Ethernet header) from sip to dip
// behind extension headers: a hop-by-hop header and then a destination
// options header, or with frag set a fragment header (offset 0, more to
// come). Its UDP checksum is right for the whole datagram.
func udp6Ext(sip, dip netip.Addr, frag bool, payload string) []byte {
	udp := binary.BigEndian.AppendUint16(nil, 40000)
	udp = binary.BigEndian.AppendUint16(udp, 53)
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(payload)))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	addrs := append(sip.AsSlice(), dip.AsSlice()...)
	sum := nonZero(checksumOver(addrs, udp, packet.ProtoUDP))
	binary.BigEndian.PutUint16(udp[6:], sum)
	ext := []byte{60, 0, 1, 4, 0, 0, 0, 0, packet.ProtoUDP, 0, 1, 4, 0, 0, 0, 0} // hop-by-hop, destination options (PadN)
	if frag {
		ext = []byte{44, 0, 1, 4, 0, 0, 0, 0, packet.ProtoUDP, 0, 0, 1, 0, 0, 0, 42} // hop-by-hop, fragment 0 M
	}
	ip := []byte{0x60, 0, 0, 0, 0, 0, 0 /* hop-by-hop */, 64}
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(udp)))
	ip = append(append(append(ip, addrs...), ext...), udp...)
	return ip
}

// TestRewriteQuotedIPv6: the IPv6 packet an ICMPv6 error quotes is found
// behind its extension headers (hop-by-hop, destination options,
// fragment), and its addresses and the checksum of the TCP, UDP or ICMPv6
// header after them are rewritten: the quote is, byte for byte, what the
// error about a packet sent to the new address would quote. The rewriter
// before ParseQuoted read the UDP checksum at a fixed offset and left it
// stale behind extension headers.
func TestRewriteQuotedIPv6(t *testing.T) {
	a, b, x := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b"), netip.MustParseAddr("fd00::c")
	rw, err := NewRewriter(nil, []string{"fd00::b=fd00::c"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := NewRewriter(nil, []string{"fd00::c=fd00::b"})
	if err != nil {
		t.Fatal(err)
	}
	echo6 := func(dst netip.Addr) []byte {
		eth := &layers.Ethernet{SrcMAC: macA[:], DstMAC: macB[:], EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: a.AsSlice(), DstIP: dst.AsSlice()}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		icmp.SetNetworkLayerForChecksum(ip)
		return serialize(t, eth, ip, icmp, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, gopacket.Payload("ping"))[14:]
	}
	for _, tc := range []struct {
		name string
		// quote gives the packet from a to dst the error quotes, from its
		// IPv6 header on; n bytes of it are quoted.
		quote func(dst netip.Addr) []byte
		n     int
	}{
		{"udp-behind-hop-by-hop-and-destination-options", func(dst netip.Addr) []byte { return udp6Ext(a, dst, false, "query") }, 40 + 16 + 8 + 5},
		{"udp-first-fragment", func(dst netip.Addr) []byte { return udp6Ext(a, dst, true, "query") }, 40 + 16 + 8 + 2},
		{"udp-no-extension-headers", func(dst netip.Addr) []byte { return udp6Frame(t, macA, macB, a, dst, 40000, 53, "query")[14:] }, 40 + 8},
		{"tcp-whole-header", func(dst netip.Addr) []byte { return tcp6Frame(t, macA, macB, a, dst, 40010, 34568, 78, "ladder")[14:] }, 40 + 20 + 3},
		{"icmpv6-echo", echo6, 40 + 8},
		// The checksum is not quoted: the addresses alone change.
		{"tcp-first-8-bytes", func(dst netip.Addr) []byte { return tcp6Frame(t, macA, macB, a, dst, 40010, 34568, 78, "ladder")[14:] }, 40 + 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := icmpv6Unreachable(t, b, a, tc.quote(b)[:tc.n])
			want := tc.quote(x)[:tc.n]
			f := bytes.Clone(frame)
			if !rw.Rewrite(f) {
				t.Fatal("Rewrite reported no change")
			}
			var h packet.Headers
			packet.Parse(f, &h)
			if got := f[h.L4+8 : h.End]; !bytes.Equal(got, want) {
				t.Errorf("got quote\n % x\nwant what an error about a packet to %s quotes\n % x", got, x, want)
			}
			if sum := checksumOver(f[h.L3+8:h.L3+40], f[h.L4:h.End], packet.ProtoICMPv6); sum != 0 {
				t.Errorf("got an ICMPv6 checksum that does not verify (sum %#04x)", sum)
			}
			back.Rewrite(f)
			if !bytes.Equal(f, frame) {
				t.Errorf("rewriting back gave\n % x\nwant\n % x", f, frame)
			}
		})
	}
}
