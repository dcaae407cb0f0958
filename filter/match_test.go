package filter

import (
	"encoding/binary"
	"testing"

	"l2hub/packet"
)

func TestMatchers(t *testing.T) {
	arp := make([]byte, 42)
	copy(arp[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(arp[6:12], macA[:])
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	mcast := udpFrame(macA, [6]byte{0x01, 0x00, 0x5e, 0x2a, 0x00, 0x01}, ipA, ipA, 37020, 37020, []byte("NXSB\x01"))
	ann := announce()
	syn := tcpFrame(40000, 34568, 0x02, nil)
	synack := tcpFrame(34568, 40000, 0x12, nil)
	data := tcpFrame(40000, 34568, 0x18, []byte("NXSB"))
	vlan := make([]byte, 0, len(ann)+4)
	vlan = append(vlan, ann[:12]...)
	vlan = append(vlan, 0x81, 0x00, 0x00, 0x05)
	vlan = append(vlan, ann[12:]...)
	frag := append([]byte(nil), ann...)
	binary.BigEndian.PutUint16(frag[14+6:], 0x0010) // fragment offset 16: no UDP header
	ipv6 := make([]byte, 14+40+8+4)
	binary.BigEndian.PutUint16(ipv6[12:], packet.EtherTypeIPv6)
	ipv6[14] = 0x60
	binary.BigEndian.PutUint16(ipv6[14+4:], 12)
	ipv6[14+6] = packet.ProtoUDP
	ipv6[14+8+15] = 1  // src ::1
	ipv6[14+24] = 0xfe // dst fe80::
	ipv6[14+25] = 0x80
	binary.BigEndian.PutUint16(ipv6[54+2:], 37020)
	copy(ipv6[62:], "NXSB")
	padded := append(udpFrame(macA, macB, ipA, ipB, 1, 2, nil), []byte("NXSB")...) // Ethernet padding
	// The same datagram behind an IPv6 hop-by-hop header (as MLD and
	// router alerts carry), and an 802.1ad+802.1Q double tag.
	hbh := make([]byte, 0, len(ipv6)+8)
	hbh = append(hbh, ipv6[:14+40]...)
	hbh = append(hbh, packet.ProtoUDP, 0, 1, 4, 0, 0, 0, 0)
	hbh = append(hbh, ipv6[54:]...)
	hbh[14+6] = 0 // next header: hop-by-hop
	binary.BigEndian.PutUint16(hbh[14+4:], 12+8)
	qinq := make([]byte, 0, len(ann)+8)
	qinq = append(qinq, ann[:12]...)
	qinq = append(qinq, 0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x05)
	qinq = append(qinq, ann[12:]...)
	// ARP behind one 802.1ad (S-)tag, and IPv6 behind two 802.1Q tags.
	sARP := make([]byte, 0, len(arp)+4)
	sARP = append(sARP, arp[:12]...)
	sARP = append(sARP, 0x88, 0xa8, 0x00, 0x09)
	sARP = append(sARP, arp[12:]...)
	qq6 := make([]byte, 0, len(ipv6)+8)
	qq6 = append(qq6, ipv6[:12]...)
	qq6 = append(qq6, 0x81, 0x00, 0x00, 0x07, 0x81, 0x00, 0x00, 0x05)
	qq6 = append(qq6, ipv6[12:]...)
	// An MLDv2 report: ICMPv6 (type 143) behind a hop-by-hop header with a
	// router alert; and a UDP datagram behind a fragment header (offset 0).
	mld := make([]byte, 14+40+8+8)
	copy(mld, ipv6[:14+40])
	binary.BigEndian.PutUint16(mld[14+4:], 16)
	mld[14+6] = 0 // hop-by-hop
	copy(mld[54:], []byte{packet.ProtoICMPv6, 0, 5, 2, 0, 0, 1, 0})
	mld[62] = 143
	fragHdr := make([]byte, 0, len(ipv6)+8)
	fragHdr = append(fragHdr, ipv6[:14+40]...)
	fragHdr = append(fragHdr, packet.ProtoUDP, 0, 0, 0, 0, 0, 0, 1)
	fragHdr = append(fragHdr, ipv6[54:]...)
	fragHdr[14+6] = 44 // fragment
	binary.BigEndian.PutUint16(fragHdr[14+4:], 12+8)

	tests := []struct {
		name, match string
		frame       []byte
		want        bool
	}{
		{"ethertype-arp", "ethertype: arp", arp, true},
		{"ethertype-ipv4-on-arp", "ethertype: ipv4", arp, false},
		{"ethertype-number", "ethertype: 0x0800", ann, true},
		{"ethertype-list", "ethertype: [arp, ipv6]", ipv6, true},
		// ethertype is the type after the VLAN tags, as the IP matchers
		// see it; vlan and qinq say whether there are tags.
		{"ethertype-ipv4-untagged", "ethertype: ipv4", ann, true},
		{"ethertype-ipv4-8021q", "ethertype: ipv4", vlan, true},
		{"ethertype-ipv4-qinq", "ethertype: ipv4", qinq, true},
		{"ethertype-arp-8021ad", "ethertype: arp", sARP, true},
		{"ethertype-ipv6-two-8021q", "ethertype: ipv6, dst_ip: fe80::/10", qq6, true},
		{"ethertype-arp-not-on-tagged-ipv4", "ethertype: arp", qinq, false},
		{"vlan-untagged", "vlan: true", ann, false},
		{"vlan-8021q", "vlan: true", vlan, true},
		{"vlan-8021ad", "vlan: true", sARP, true},
		{"vlan-qinq", "vlan: true", qinq, true},
		{"untagged", "vlan: false", ann, true},
		{"untagged-not-8021q", "vlan: false", vlan, false},
		{"qinq-untagged", "qinq: true", ann, false},
		{"qinq-8021q", "qinq: true", vlan, false},
		{"qinq-8021ad-alone", "qinq: true", sARP, false},
		{"qinq", "qinq: true", qinq, true},
		{"qinq-two-8021q", "qinq: true", qq6, true},
		{"not-qinq-8021q", "qinq: false, vlan: true", vlan, true},
		{"vlan-and-ethertype", "vlan: true, ethertype: ipv4, dst_port: 37020", vlan, true},
		{"broadcast", "broadcast: true", arp, true},
		{"not-broadcast", "broadcast: false", arp, false},
		{"multicast", "multicast: true", mcast, true},
		{"broadcast-is-not-multicast", "multicast: true", arp, false},
		{"unicast", "multicast: false, broadcast: false", ann, true},
		{"src-mac", "src_mac: 52:54:00:12:34:56", ann, true},
		{"src-mac-dash", "src_mac: 52-54-00-12-34-57", ann, false},
		{"dst-mac", "dst_mac: 52:54:00:65:43:21", ann, true},
		{"src-ip", "src_ip: 10.42.0.10", ann, true},
		{"src-ip-cidr", "src_ip: 10.42.0.0/24", ann, true},
		{"src-ip-other", "src_ip: 10.43.0.0/16", ann, false},
		{"dst-ip-list", "dst_ip: [1.2.3.4, 10.42.0.11]", ann, true},
		{"dst-ip-on-arp", "dst_ip: 0.0.0.0/0", arp, false},
		{"ipv6-dst", "dst_ip: fe80::/10", ipv6, true},
		{"ipv6-port-payload", "dst_port: 37020, payload: NXSB", ipv6, true},
		{"protocol", "protocol: udp", ann, true},
		{"protocol-number", "protocol: 6", ann, false},
		{"dst-port", "dst_port: 37020", ann, true},
		{"src-port-range", "src_port: 37000-37100", ann, true},
		{"src-port-open-range", "src_port: 40000-", ann, false},
		{"port-on-fragment", "dst_port: 37020", frag, false},
		{"syn-not-ack-on-syn", "tcp_flags: syn !ack", syn, true},
		{"syn-not-ack-on-synack", "tcp_flags: syn !ack", synack, false},
		{"psh-ack", "tcp_flags: psh+ack", data, true},
		{"tcp-flags-on-udp", "tcp_flags: syn", ann, false},
		{"payload-udp", "payload: NXSB", ann, true},
		{"payload-tcp", "payload: NXSB", data, true},
		{"payload-hex", "payload_hex: 4e 58 53 42 01", ann, true},
		{"payload-longer-than-frame", "payload: NXSB-and-much-more", ann, false},
		{"payload-not-in-padding", "payload: NXSB", padded, false},
		{"payload-vlan", "payload: NXSB, dst_port: 37020", vlan, true},
		{"payload-qinq", "payload: NXSB, dst_port: 37020", qinq, true},
		{"ipv6-behind-hop-by-hop", "protocol: udp, dst_port: 37020, payload: NXSB", hbh, true},
		// protocol on IPv6 is the upper layer after the extension headers,
		// not the first next header (POLICY.md's protocol row).
		{"protocol-icmpv6-mld-behind-hop-by-hop", "protocol: icmpv6", mld, true},
		{"protocol-hop-by-hop-is-not-the-protocol", "protocol: [tcp, udp, igmp]", mld, false},
		{"protocol-udp-behind-fragment-header", "protocol: udp, dst_port: 37020", fragHdr, true},
		{"protocol-fragment-header-is-not-the-protocol", "protocol: 44", fragHdr, false},
		{"length-range", "length: 50-60", ann, true},
		{"length-open", "length: 100-", ann, false},
		{"length-exact", "length: 42", arp, true},
		{"all-of", "protocol: udp, dst_port: 37020, payload: NXSB, src_ip: 10.42.0.10", ann, true},
		{"one-fails", "protocol: udp, dst_port: 37021, payload: NXSB", ann, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte("rules:\n  - {name: m, match: {"+tt.match+"}, drop: true}\n"), "t", abc)
			if err != nil {
				t.Fatal(err)
			}
			if got := decide(p, 0, link("a", "b"), tt.frame).Drop; got != tt.want {
				t.Errorf("match {%s} on %s: got %v, want %v", tt.match, tt.name, got, tt.want)
			}
		})
	}
}

func TestMatchPorts(t *testing.T) {
	tests := []struct {
		name, match string
		want        []string // links matched among all six
	}{
		{"from", "from: a", []string{"a->b", "a->c"}},
		{"to-list", "to: [a, b]", []string{"a->b", "b->a", "c->a", "c->b"}},
		{"link", "link: a->b", []string{"a->b"}},
		{"link-both", "link: a<->b", []string{"a->b", "b->a"}},
		{"link-list", "link: [a->b, c->a]", []string{"a->b", "c->a"}},
		{"group", "link: west->c", []string{"a->c", "b->c"}},
		{"from-and-to", "from: west, to: c", []string{"a->c", "b->c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "groups: {west: [a, b]}\nrules:\n  - {name: m, match: {"+tt.match+"}, drop: true}\n")
			var got []string
			for _, from := range abc {
				for _, to := range abc {
					if from != to && decide(p, 0, link(from, to), plain()).Drop {
						got = append(got, from+"->"+to)
					}
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestPacketParseTruncated(t *testing.T) {
	// Every prefix of a TCP frame parses without panicking and never claims
	// a header it does not have.
	f := tcpFrame(1, 2, 0x02, []byte("payload"))
	for n := range len(f) + 1 {
		var pk frameHeaders
		pk.ensure(f[:n])
		if pk.HasPorts && n < 14+20+20 {
			t.Errorf("prefix %d: got ports, want none", n)
		}
		if pk.Payload > n || pk.L4 > n || pk.L3 > n || pk.End > n {
			t.Errorf("prefix %d: offsets %+v past the end", n, pk)
		}
	}
}
