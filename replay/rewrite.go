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
// quoted in an ICMP or ICMPv6 error (behind its extension headers, for
// IPv6). Checksums are updated for every change (IPv4 header, TCP, UDP,
// ICMP, ICMPv6, and the quoted IPv4 header and TCP, UDP or ICMPv6 checksum
// where the quote holds them; RFC 1624's incremental update), so a frame
// whose checksums were right stays right, one recorded with a bad checksum
// stays bad by the same amount, and IP fragments and frames cut by a
// snaplen are handled too. Headers are read with package packet. IPv6
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
		changed = rw.arp(h.ARP(frame)) || changed
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

// addrs rewrites an IP header's source and destination addresses, which
// b holds one after the other (packet.Headers.AddrBytes). ipv4 and ipv6
// spell it out, sparing a call per frame.
func (rw *Rewriter) addrs(b []byte) bool {
	c := rw.ip(b[:len(b)/2])
	return rw.ip(b[len(b)/2:]) || c
}

// arp rewrites an ARP packet's sender and target addresses; a is nil
// unless the frame holds one for IPv4 over Ethernet.
func (rw *Rewriter) arp(a header.ARP) bool {
	if a == nil {
		return false
	}
	c := rw.mac(a.HardwareAddressSender())
	c = rw.ip(a.ProtocolAddressSender()) || c
	c = rw.mac(a.HardwareAddressTarget()) || c
	c = rw.ip(a.ProtocolAddressTarget()) || c
	return c
}

// ipv4 rewrites an IPv4 packet's addresses and fixes its checksums.
func (rw *Rewriter) ipv4(frame []byte, h *packet.Headers) bool {
	addrs := h.AddrBytes(frame)
	var old [8]byte
	copy(old[:], addrs)
	src := rw.ip(addrs[:4])
	if dst := rw.ip(addrs[4:]); !src && !dst {
		// Addresses unchanged: an ICMP error may still quote a header
		// with addresses to rewrite.
		return isICMP(h) && rw.quoted(frame, h)
	}
	ip := header.IPv4(frame[h.L3:h.L4])
	ip.SetChecksum(packet.UpdateChecksum(ip.Checksum(), old[:], addrs))
	rw.transport(frame, h, old[:], addrs)
	return true
}

// ipv6 rewrites an IPv6 packet's addresses and fixes the transport's
// checksum (IPv6 has no header checksum).
func (rw *Rewriter) ipv6(frame []byte, h *packet.Headers) bool {
	addrs := h.AddrBytes(frame)
	var old [32]byte
	copy(old[:], addrs)
	src := rw.ip(addrs[:16])
	if dst := rw.ip(addrs[16:]); !src && !dst {
		return isICMP(h) && rw.quoted(frame, h)
	}
	if h.Routed {
		// The transport's checksum sums the final destination, in
		// the routing header, not the waypoint the header names.
		rw.transport(frame, h, old[:16], addrs[:16])
		return true
	}
	rw.transport(frame, h, old[:], addrs)
	return true
}

// transport fixes the checksum of the packet's segment (as far as the
// frame holds it) for the IP addresses old having become new, and rewrites
// the header an ICMP or ICMPv6 error quotes. Later fragments carry no
// transport header.
func (rw *Rewriter) transport(frame []byte, h *packet.Headers, old, new []byte) {
	if h.FragOffset != 0 {
		return
	}
	fixSum(frame[h.L4:h.End], h.Proto, old, new)
	if isICMP(h) {
		rw.quoted(frame, h)
	}
}

// isICMP reports whether the packet is ICMP or ICMPv6, which may quote a
// header: the common packets are spared the call.
func isICMP(h *packet.Headers) bool {
	return h.Proto == packet.ProtoICMP || h.Proto == packet.ProtoICMPv6
}

// fixSum updates the checksum of the segment l4 (as far as it goes) for
// the IP addresses old having become new, if its protocol sums them in a
// pseudo-header: TCP, UDP (unless it carries none) and ICMPv6. It returns
// the checksum field's old and new values, and whether it changed it.
func fixSum(l4 []byte, proto uint8, old, new []byte) (was, now uint16, ok bool) {
	var at int // where the protocol keeps its checksum
	switch proto {
	case packet.ProtoTCP:
		at = 16
	case packet.ProtoUDP:
		at = 6
	case packet.ProtoICMPv6:
		at = 2
	default:
		return 0, 0, false
	}
	if len(l4) < at+2 {
		return 0, 0, false
	}
	was = binary.BigEndian.Uint16(l4[at:])
	if proto == packet.ProtoUDP && was == 0 {
		return 0, 0, false // none was computed
	}
	now = packet.UpdateChecksum(was, old, new)
	if proto == packet.ProtoUDP {
		now = nonZero(now)
	}
	setSum(l4[at:], now)
	return was, now, true
}

// quoted rewrites the addresses of the IP header an ICMP or ICMPv6 error
// quotes (packet.Headers.ParseQuoted: IPv6 extension headers walked), the
// quoted IPv4 header's checksum and the quoted transport's checksum where
// the quote holds it, and updates the message's checksum for every word
// changed.
func (rw *Rewriter) quoted(frame []byte, h *packet.Headers) bool {
	var q packet.Headers
	if !h.ParseQuoted(frame, &q) {
		return false
	}
	addrs := q.AddrBytes(frame)
	var buf [32]byte
	old := buf[:copy(buf[:], addrs)]
	if !rw.addrs(addrs) {
		return false
	}
	msg := frame[h.L4:h.End] // ICMP and ICMPv6 keep their checksum at 2
	// Every changed word lies at an even offset of msg: the quote starts
	// 8 bytes in, and IP and extension headers are multiples of 4 bytes.
	sum := packet.UpdateChecksum(binary.BigEndian.Uint16(msg[2:]), old, addrs)
	if q.IPVersion == 4 {
		ip := header.IPv4(frame[q.L3:q.L4])
		was := ip.Checksum()
		ip.SetChecksum(packet.UpdateChecksum(was, old, addrs))
		sum = updateWord(sum, was, ip.Checksum())
	}
	if q.FragOffset == 0 {
		if was, now, ok := fixSum(frame[q.L4:q.End], q.Proto, old, addrs); ok {
			sum = updateWord(sum, was, now)
		}
	}
	setSum(msg[2:], sum)
	return true
}

// updateWord returns the Internet checksum sum updated for one 16-bit word
// of the data it covers (at an even offset) having changed from was to now.
func updateWord(sum, was, now uint16) uint16 {
	o, n := [2]byte{byte(was >> 8), byte(was)}, [2]byte{byte(now >> 8), byte(now)}
	return packet.UpdateChecksum(sum, o[:], n[:])
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
