package checker

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestParsePacketIPv6: the checker reads IPv6 as it reads IPv4, through
// the one parser: UDP and TCP over IPv6 have their ports, payload and
// checksums checked, and a fragment is a fragment.
func TestParsePacketIPv6(t *testing.T) {
	src, dst := netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::b")
	build := func(l4 gopacket.SerializableLayer, next layers.IPProtocol, payload string) []byte {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}, EthernetType: layers.EthernetTypeIPv6}
		ip := &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: next, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		switch l := l4.(type) {
		case *layers.UDP:
			l.SetNetworkLayerForChecksum(ip)
		case *layers.TCP:
			l.SetNetworkLayerForChecksum(ip)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	udp := build(&layers.UDP{SrcPort: 37020, DstPort: 37020}, layers.IPProtocolUDP, "NXSB")
	var p packet
	parsePacket(udp, &p)
	if p.kind != pktUDP || p.src != src || p.dst != dst || p.dstPort != 37020 || string(p.payload) != "NXSB" || p.badSum || p.ttl != 9 {
		t.Errorf("got %+v for IPv6 UDP, want UDP fd00::a -> fd00::b:37020 carrying NXSB", p)
	}
	udp[len(udp)-1] ^= 1
	if parsePacket(udp, &p); !p.badSum {
		t.Error("got a changed IPv6 UDP datagram's checksum accepted")
	}
	tcp := build(&layers.TCP{SrcPort: 40010, DstPort: 34568, Seq: 7, SYN: true, Window: 512}, layers.IPProtocolTCP, "")
	if parsePacket(tcp, &p); p.kind != pktTCP || p.seq != 7 || p.flags&tcpSYN == 0 || p.badSum {
		t.Errorf("got %+v for an IPv6 SYN, want TCP seq 7 SYN", p)
	}
	// A fragment header (next header UDP, offset 0, more to come) and the
	// start of the datagram.
	fragHdr := gopacket.Payload([]byte{byte(layers.IPProtocolUDP), 0, 0, 1, 0, 0, 0, 1})
	frag := build(fragHdr, layers.IPProtocolIPv6Fragment, "01234567")
	if parsePacket(frag, &p); p.kind != pktIP || !p.fragment {
		t.Errorf("got %+v for an IPv6 fragment, want an IP fragment", p)
	}
}
