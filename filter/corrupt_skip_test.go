package filter

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"l2hub/packet"
)

// ipv6Frame builds Ethernet + IPv6 (::1 -> fe80::) + l4, next header next.
func ipv6Frame(next uint8, l4 []byte) []byte {
	f := make([]byte, 14+40+len(l4))
	copy(f[0:6], macB[:])
	copy(f[6:12], macA[:])
	binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv6)
	f[14] = 0x60
	binary.BigEndian.PutUint16(f[14+4:], uint16(len(l4)))
	f[14+6] = next
	f[14+7] = 64
	f[14+8+15] = 1
	f[14+24], f[14+25] = 0xfe, 0x80
	copy(f[54:], l4)
	return f
}

func udpHeader(sport, dport uint16, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	return u
}

// TestCorruptSkip: skip: ip damages only an IP packet's payload, skip:
// transport only a TCP or UDP payload (POLICY.md's corrupt); a frame with
// nothing of that kind is left alone (no copy, no note, not counted),
// whatever the protocol: ARP, ICMP, ICMPv6, fragments, cut headers.
func TestCorruptSkip(t *testing.T) {
	arp := make([]byte, 42)
	copy(arp[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(arp[6:12], macA[:])
	binary.BigEndian.PutUint16(arp[12:], packet.EtherTypeARP)
	for i := 14; i < 42; i++ {
		arp[i] = byte(i)
	}
	icmp := ipv4Frame(macA, macB, ipA, ipB, packet.ProtoICMP, []byte{8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'})
	udp := plain()                                               // 100 bytes, payload from 42
	udpEmpty := udpFrame(macA, macB, ipA, ipB, 1, 2, nil)        // 42 bytes
	padded := append(bytes.Clone(udpEmpty), make([]byte, 18)...) // Ethernet padding to 60
	// A UDP length shorter than the IP packet: the 4 bytes after the
	// datagram are not its payload.
	udpShort := udpFrame(macA, macB, ipA, ipB, 1, 2, []byte("NXSBtail"))
	binary.BigEndian.PutUint16(udpShort[14+20+4:], 8+4)
	tcp := tcpFrame(40000, 34568, 0x18, []byte("NXSB")) // payload 54-58
	tcpEmpty := tcpFrame(40000, 34568, 0x10, nil)       // a bare ACK
	frag := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 16))
	binary.BigEndian.PutUint16(frag[14+6:], 0x0010) // offset 16: no UDP header
	vlan := make([]byte, 0, len(udp)+4)
	vlan = append(vlan, udp[:12]...)
	vlan = append(vlan, 0x81, 0x00, 0x00, 0x05)
	vlan = append(vlan, udp[12:]...)
	v6udp := ipv6Frame(packet.ProtoUDP, udpHeader(1, 2, []byte("NXSB"))) // payload 62-66
	v6icmp := ipv6Frame(packet.ProtoICMPv6, []byte{128, 0, 0, 0, 0, 1, 0, 1})
	// MLD-like: hop-by-hop then UDP (payload 70-74).
	hbh := ipv6Frame(0, append([]byte{packet.ProtoUDP, 0, 5, 2, 0, 0, 1, 0}, udpHeader(1, 2, []byte("NXSB"))...))
	// A hop-by-hop header the packet cuts short: the header chain ends
	// nowhere, so nothing is known to be the IP payload.
	v6cut := ipv6Frame(0, []byte{packet.ProtoUDP, 0, 0, 0})

	type span struct{ lo, hi int } // {0, 0}: left alone
	none := span{}
	tests := []struct {
		name                string
		frame               []byte
		ethernet, ip, trans span
	}{
		{"arp", arp, span{14, 42}, none, none},
		{"icmp", icmp, span{14, 46}, span{34, 46}, none},
		{"udp", udp, span{14, 100}, span{34, 100}, span{42, 100}},
		{"udp-no-payload", udpEmpty, span{14, 42}, span{34, 42}, none},
		{"udp-no-payload-padded", padded, span{14, 42}, span{34, 42}, none},
		{"udp-length-short", udpShort, span{14, 50}, span{34, 50}, span{42, 46}},
		{"tcp", tcp, span{14, 58}, span{34, 58}, span{54, 58}},
		{"tcp-no-payload", tcpEmpty, span{14, 54}, span{34, 54}, none},
		{"ipv4-later-fragment", frag, span{14, 58}, span{34, 58}, none},
		{"vlan-udp", vlan, span{18, 104}, span{38, 104}, span{46, 104}},
		{"ipv6-udp", v6udp, span{14, 66}, span{54, 66}, span{62, 66}},
		{"ipv6-icmpv6", v6icmp, span{14, 62}, span{54, 62}, none},
		{"ipv6-hop-by-hop-udp", hbh, span{14, 74}, span{62, 74}, span{70, 74}},
		{"ipv6-cut-extension-header", v6cut, span{14, 58}, none, none},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			skip string
			want span
		}{{"ethernet", tt.ethernet}, {"ip", tt.ip}, {"transport", tt.trans}} {
			t.Run(tt.name+"/"+c.skip, func(t *testing.T) {
				pol := mustParse(t, "rules:\n  - {name: c, corrupt: {probability: 100%, bits: 64, skip: "+c.skip+"}}\n")
				for i := range 50 {
					d := decide(pol, time.Duration(i), link("a", "b"), tt.frame)
					if c.want == none {
						if len(d.Copies) != 0 || len(d.Notes) != 0 {
							t.Fatalf("got copies %+v, notes %v; want the frame left alone", d.Copies, d.Notes)
						}
						continue
					}
					if len(d.Copies) != 1 || d.Copies[0].Frame == nil {
						t.Fatalf("got %+v, want one corrupted copy", d)
					}
					out := d.Copies[0].Frame
					n := 0
					for k := range out {
						if x := out[k] ^ tt.frame[k]; x != 0 {
							if k < c.want.lo || k >= c.want.hi {
								t.Fatalf("byte %d changed, want changes only in [%d,%d)", k, c.want.lo, c.want.hi)
							}
							for ; x != 0; x &= x - 1 {
								n++
							}
						}
					}
					if want := min(64, (c.want.hi-c.want.lo)*8); n != want {
						t.Fatalf("got %d bits flipped, want %d", n, want)
					}
				}
				if got := pol.Stats().Rules[0].Corrupted; (got == 0) != (c.want == none) {
					t.Errorf("corrupted counter %d, want it counted only when a frame was damaged", got)
				}
			})
		}
	}
}
