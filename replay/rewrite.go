package replay

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip/header"

	"l2hub/packet"
)

// Rewriter maps MAC and IP addresses in frames, so that a recorded exchange
// can be aimed at another VM: Ethernet source and destination, ARP sender
// and target, IPv4 and IPv6 source and destination, and the IP header
// quoted in an ICMP or ICMPv6 error. Checksums are updated for every change
// (IPv4 header, TCP, UDP, ICMP, ICMPv6; RFC 1624's incremental update), so a
// frame whose checksums were right stays right, one recorded with a bad
// checksum stays bad by the same amount, and IP fragments and frames cut by
// a snaplen are handled too. Headers are read with package packet. IPv6
// neighbour discovery's own address fields are left alone.
type Rewriter struct {
	macs map[[6]byte][6]byte
	ips  map[netip.Addr]netip.Addr
}

// NewRewriter parses OLD=NEW pairs: MAC addresses for macs, IP addresses
// (both IPv4 or both IPv6) for ips.
func NewRewriter(macs, ips []string) (*Rewriter, error) {
	rw := &Rewriter{macs: map[[6]byte][6]byte{}, ips: map[netip.Addr]netip.Addr{}}
	for _, s := range macs {
		o, n, ok := strings.Cut(s, "=")
		om, err1 := net.ParseMAC(strings.TrimSpace(o))
		nm, err2 := net.ParseMAC(strings.TrimSpace(n))
		if !ok || err1 != nil || err2 != nil || len(om) != 6 || len(nm) != 6 {
			return nil, fmt.Errorf("%w: MAC %q: want OLD=NEW, e.g. 52:54:00:12:34:0a=52:54:00:12:34:0c", ErrRewrite, s)
		}
		k, v := [6]byte(om), [6]byte(nm)
		if prev, dup := rw.macs[k]; dup && prev != v {
			return nil, fmt.Errorf("%w: MAC %s is rewritten twice", ErrRewrite, om)
		}
		rw.macs[k] = v
	}
	for _, s := range ips {
		o, n, ok := strings.Cut(s, "=")
		oi, err1 := netip.ParseAddr(strings.TrimSpace(o))
		ni, err2 := netip.ParseAddr(strings.TrimSpace(n))
		oi, ni = oi.Unmap(), ni.Unmap() // ::ffff:10.0.0.2 is the IPv4 address it maps
		switch {
		case !ok || err1 != nil || err2 != nil || oi.Zone() != "" || ni.Zone() != "":
			return nil, fmt.Errorf("%w: IP %q: want OLD=NEW, e.g. 10.42.0.10=10.42.0.12 or fd00::a=fd00::c", ErrRewrite, s)
		case oi.Is4() != ni.Is4():
			return nil, fmt.Errorf("%w: IP %q: an IPv4 address can only become another IPv4 address, and IPv6 IPv6", ErrRewrite, s)
		}
		if prev, dup := rw.ips[oi]; dup && prev != ni {
			return nil, fmt.Errorf("%w: IP address %s is rewritten twice", ErrRewrite, oi)
		}
		rw.ips[oi] = ni
	}
	return rw, nil
}

// Empty reports whether the rewriter changes nothing.
func (rw *Rewriter) Empty() bool { return rw == nil || len(rw.macs)+len(rw.ips) == 0 }

// Rewrite rewrites frame in place and reports whether it changed anything.
// Malformed or truncated headers are left as they are, as far as they go.
func (rw *Rewriter) Rewrite(frame []byte) bool {
	if rw.Empty() || len(frame) < packet.EthernetLen {
		return false
	}
	changed := rw.mac(frame[0:6])
	changed = rw.mac(frame[6:12]) || changed
	var h packet.Headers
	packet.Parse(frame, &h)
	switch {
	case h.EtherType == packet.EtherTypeARP:
		changed = rw.arp(frame[h.L3:]) || changed
	case h.IPVersion == 4:
		changed = rw.ipv4(frame, &h) || changed
	case h.IPVersion == 6:
		changed = rw.ipv6(frame, &h) || changed
	}
	return changed
}

func (rw *Rewriter) mac(b []byte) bool {
	if len(rw.macs) == 0 {
		return false
	}
	if n, ok := rw.macs[[6]byte(b)]; ok {
		copy(b, n[:])
		return true
	}
	return false
}

// ip rewrites the address in b (4 or 16 bytes).
func (rw *Rewriter) ip(b []byte) bool {
	if len(rw.ips) == 0 {
		return false
	}
	var a netip.Addr
	if len(b) == 4 {
		a = netip.AddrFrom4([4]byte(b))
	} else {
		a = netip.AddrFrom16([16]byte(b))
	}
	if n, ok := rw.ips[a]; ok {
		copy(b, n.AsSlice())
		return true
	}
	return false
}

// arp rewrites an Ethernet/IPv4 ARP packet's sender and target addresses.
func (rw *Rewriter) arp(b []byte) bool {
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != packet.EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return false
	}
	c := rw.mac(b[8:14])
	c = rw.ip(b[14:18]) || c
	c = rw.mac(b[18:24]) || c
	c = rw.ip(b[24:28]) || c
	return c
}

// ipv4 rewrites an IPv4 packet's addresses and fixes its checksums.
func (rw *Rewriter) ipv4(frame []byte, h *packet.Headers) bool {
	b := frame[h.L3:]
	var old [8]byte
	copy(old[:], b[12:20])
	c := rw.ip(b[12:16])
	c = rw.ip(b[16:20]) || c
	if !c {
		// Addresses unchanged: an ICMP error may still quote a header
		// with addresses to rewrite.
		if h.Proto == packet.ProtoICMP && h.FragOffset == 0 {
			return rw.icmp(frame[h.L4:])
		}
		return false
	}
	setSum(b[10:], packet.UpdateChecksum(binary.BigEndian.Uint16(b[10:]), old[:], b[12:20]))
	if h.FragOffset == 0 { // later fragments carry no transport header
		rw.transport(frame[h.L4:], h.Proto, old[:], b[12:20])
	}
	return true
}

// ipv6 rewrites an IPv6 packet's addresses and fixes the transport's
// checksum (IPv6 has no header checksum).
func (rw *Rewriter) ipv6(frame []byte, h *packet.Headers) bool {
	b := frame[h.L3:]
	var old [32]byte
	copy(old[:], b[8:40])
	c := rw.ip(b[8:24])
	c = rw.ip(b[24:40]) || c
	if !c {
		if h.Proto == packet.ProtoICMPv6 && h.FragOffset == 0 {
			return rw.icmpv6(frame[h.L4:])
		}
		return false
	}
	if h.FragOffset == 0 && h.L4 > h.L3 {
		rw.transport(frame[h.L4:], h.Proto, old[:], b[8:40])
	}
	return true
}

// transport fixes the checksum of the segment at l4 (as far as the frame
// holds it) for the IP addresses old having become new: TCP, UDP and
// ICMPv6 sum a pseudo-header with them. ICMP and ICMPv6 errors quote a
// header to rewrite as well.
func (rw *Rewriter) transport(l4 []byte, proto uint8, old, new []byte) {
	switch proto {
	case packet.ProtoTCP: // checksum at 16
		if len(l4) >= 18 {
			setSum(l4[16:], packet.UpdateChecksum(binary.BigEndian.Uint16(l4[16:]), old, new))
		}
	case packet.ProtoUDP: // checksum at 6; zero means none was computed
		if len(l4) >= 8 {
			if s := binary.BigEndian.Uint16(l4[6:]); s != 0 {
				setSum(l4[6:], nonZero(packet.UpdateChecksum(s, old, new)))
			}
		}
	case packet.ProtoICMP: // no pseudo-header, but errors quote the original header
		rw.icmp(l4)
	case packet.ProtoICMPv6: // checksum at 2, over a pseudo-header too
		if len(l4) >= 4 {
			setSum(l4[2:], packet.UpdateChecksum(binary.BigEndian.Uint16(l4[2:]), old, new))
			rw.icmpv6(l4)
		}
	}
}

// icmp rewrites the IPv4 header (and the UDP checksum word) quoted by an
// ICMP error message, and fixes the ICMP checksum.
func (rw *Rewriter) icmp(m []byte) bool {
	if len(m) < 8+header.IPv4MinimumSize {
		return false
	}
	switch m[0] {
	case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
	default:
		return false
	}
	inner := header.IPv4(m[8:])
	ihl := int(inner.HeaderLength())
	if header.IPVersion(inner) != header.IPv4Version || ihl < header.IPv4MinimumSize || len(inner) < ihl {
		return false
	}
	n := min(len(inner), ihl+8)
	region := inner[:n&^1] // even length, starting at an even offset of m
	old := make([]byte, len(region))
	copy(old, region)
	var addrs [8]byte
	copy(addrs[:], inner[12:20])
	c := rw.ip(inner[12:16])
	c = rw.ip(inner[16:20]) || c
	if !c {
		return false
	}
	setSum(inner[10:], packet.UpdateChecksum(inner.Checksum(), addrs[:], inner[12:20]))
	if inner.FragmentOffset() == 0 && inner.Protocol() == packet.ProtoUDP && len(inner) >= ihl+8 {
		if s := binary.BigEndian.Uint16(inner[ihl+6:]); s != 0 {
			setSum(inner[ihl+6:], nonZero(packet.UpdateChecksum(s, addrs[:], inner[12:20])))
		}
	}
	setSum(m[2:], packet.UpdateChecksum(binary.BigEndian.Uint16(m[2:]), old, region))
	return true
}

// icmpv6 rewrites the IPv6 header (and the UDP checksum word) quoted by an
// ICMPv6 error message, and fixes the ICMPv6 checksum.
func (rw *Rewriter) icmpv6(m []byte) bool {
	if len(m) < 8+header.IPv6MinimumSize {
		return false
	}
	switch m[0] {
	case 1, 2, 3, 4: // unreachable, packet too big, time exceeded, parameter problem
	default:
		return false
	}
	inner := header.IPv6(m[8:])
	if header.IPVersion(inner) != header.IPv6Version {
		return false
	}
	n := min(len(inner), header.IPv6MinimumSize+8)
	region := inner[:n&^1]
	old := make([]byte, len(region))
	copy(old, region)
	var addrs [32]byte
	copy(addrs[:], inner[8:40])
	c := rw.ip(inner[8:24])
	c = rw.ip(inner[24:40]) || c
	if !c {
		return false
	}
	if inner.NextHeader() == packet.ProtoUDP && len(inner) >= header.IPv6MinimumSize+8 {
		if s := binary.BigEndian.Uint16(inner[46:]); s != 0 {
			setSum(inner[46:], nonZero(packet.UpdateChecksum(s, addrs[:], inner[8:40])))
		}
	}
	setSum(m[2:], packet.UpdateChecksum(binary.BigEndian.Uint16(m[2:]), old, region))
	return true
}

func setSum(b []byte, s uint16) { binary.BigEndian.PutUint16(b, s) }

// nonZero keeps a UDP checksum from becoming zero, which means "none":
// its one's complement equivalent is 0xffff.
func nonZero(s uint16) uint16 {
	if s == 0 {
		return 0xffff
	}
	return s
}
