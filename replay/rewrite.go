package replay

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
)

// Rewriter maps MAC and IPv4 addresses in frames, so that a recorded
// exchange can be aimed at another VM: Ethernet source and destination, ARP
// sender and target, IPv4 source and destination, and the IPv4 header quoted
// in an ICMP error. Checksums are updated for every change (IPv4 header,
// TCP, UDP, ICMP; RFC 1624's incremental update), so a frame whose checksums
// were right stays right, one recorded with a bad checksum stays bad by the
// same amount, and IP fragments and frames cut by a snaplen are handled too.
// IPv6 is left alone.
type Rewriter struct {
	macs map[[6]byte][6]byte
	ips  map[[4]byte][4]byte
}

// NewRewriter parses OLD=NEW pairs: MAC addresses for macs, IPv4 addresses
// for ips.
func NewRewriter(macs, ips []string) (*Rewriter, error) {
	rw := &Rewriter{macs: map[[6]byte][6]byte{}, ips: map[[4]byte][4]byte{}}
	for _, s := range macs {
		o, n, ok := strings.Cut(s, "=")
		om, err1 := net.ParseMAC(strings.TrimSpace(o))
		nm, err2 := net.ParseMAC(strings.TrimSpace(n))
		if !ok || err1 != nil || err2 != nil || len(om) != 6 || len(nm) != 6 {
			return nil, fmt.Errorf("%w: MAC %q: want OLD=NEW, e.g. 52:54:00:12:34:0a=52:54:00:12:34:0c", ErrRewrite, s)
		}
		var k, v [6]byte
		copy(k[:], om)
		copy(v[:], nm)
		if prev, dup := rw.macs[k]; dup && prev != v {
			return nil, fmt.Errorf("%w: MAC %s is rewritten twice", ErrRewrite, om)
		}
		rw.macs[k] = v
	}
	for _, s := range ips {
		o, n, ok := strings.Cut(s, "=")
		oi, ni := net.ParseIP(strings.TrimSpace(o)).To4(), net.ParseIP(strings.TrimSpace(n)).To4()
		if !ok || oi == nil || ni == nil {
			return nil, fmt.Errorf("%w: IPv4 %q: want OLD=NEW, e.g. 10.42.0.10=10.42.0.12", ErrRewrite, s)
		}
		k, v := [4]byte(oi), [4]byte(ni)
		if prev, dup := rw.ips[k]; dup && prev != v {
			return nil, fmt.Errorf("%w: IPv4 address %s is rewritten twice", ErrRewrite, oi)
		}
		rw.ips[k] = v
	}
	return rw, nil
}

// Empty reports whether the rewriter changes nothing.
func (rw *Rewriter) Empty() bool { return rw == nil || len(rw.macs)+len(rw.ips) == 0 }

// Rewrite rewrites frame in place and reports whether it changed anything.
// Malformed or truncated headers are left as they are, as far as they go.
func (rw *Rewriter) Rewrite(frame []byte) bool {
	if rw.Empty() || len(frame) < 14 {
		return false
	}
	changed := rw.mac(frame[0:6])
	changed = rw.mac(frame[6:12]) || changed
	off := 12
	etype := binary.BigEndian.Uint16(frame[off:])
	for (etype == 0x8100 || etype == 0x88a8) && len(frame) >= off+6 { // 802.1Q / 802.1ad tags
		off += 4
		etype = binary.BigEndian.Uint16(frame[off:])
	}
	l3 := frame[off+2:]
	switch etype {
	case 0x0806:
		changed = rw.arp(l3) || changed
	case 0x0800:
		changed = rw.ipv4(l3) || changed
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

func (rw *Rewriter) ip(b []byte) bool {
	if len(rw.ips) == 0 {
		return false
	}
	if n, ok := rw.ips[[4]byte(b)]; ok {
		copy(b, n[:])
		return true
	}
	return false
}

// arp rewrites an Ethernet/IPv4 ARP packet's sender and target addresses.
func (rw *Rewriter) arp(b []byte) bool {
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:]) != 1 || binary.BigEndian.Uint16(b[2:]) != 0x0800 || b[4] != 6 || b[5] != 4 {
		return false
	}
	c := rw.mac(b[8:14])
	c = rw.ip(b[14:18]) || c
	c = rw.mac(b[18:24]) || c
	c = rw.ip(b[24:28]) || c
	return c
}

// ipv4 rewrites an IPv4 packet's addresses and fixes its checksums.
func (rw *Rewriter) ipv4(b []byte) bool {
	if len(b) < 20 || b[0]>>4 != 4 {
		return false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return false
	}
	var old [8]byte
	copy(old[:], b[12:20])
	c := rw.ip(b[12:16])
	c = rw.ip(b[16:20]) || c
	if !c {
		// Addresses unchanged: an ICMP error may still quote a header
		// with addresses to rewrite.
		if b[9] == 1 && fragOffset(b) == 0 {
			return rw.icmp(b[ihl:])
		}
		return false
	}
	setSum(b[10:], csumUpdate(binary.BigEndian.Uint16(b[10:]), old[:], b[12:20]))
	if fragOffset(b) != 0 { // no transport header in this fragment
		return true
	}
	l4 := b[ihl:]
	switch b[9] {
	case 6: // TCP: checksum at 16, over a pseudo-header with the addresses
		if len(l4) >= 18 {
			setSum(l4[16:], csumUpdate(binary.BigEndian.Uint16(l4[16:]), old[:], b[12:20]))
		}
	case 17: // UDP: checksum at 6; zero means none was computed
		if len(l4) >= 8 {
			if s := binary.BigEndian.Uint16(l4[6:]); s != 0 {
				s = csumUpdate(s, old[:], b[12:20])
				if s == 0 {
					s = 0xffff
				}
				setSum(l4[6:], s)
			}
		}
	case 1: // ICMP: no pseudo-header, but errors quote the original header
		rw.icmp(l4)
	}
	return true
}

// icmp rewrites the IPv4 header (and the TCP/UDP ports' checksum word)
// quoted by an ICMP error message, and fixes the ICMP checksum.
func (rw *Rewriter) icmp(m []byte) bool {
	if len(m) < 8+20 {
		return false
	}
	switch m[0] {
	case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
	default:
		return false
	}
	inner := m[8:]
	ihl := int(inner[0]&0x0f) * 4
	if inner[0]>>4 != 4 || ihl < 20 || len(inner) < ihl {
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
	setSum(inner[10:], csumUpdate(binary.BigEndian.Uint16(inner[10:]), addrs[:], inner[12:20]))
	if fragOffset(inner) == 0 && inner[9] == 17 && len(inner) >= ihl+8 {
		if s := binary.BigEndian.Uint16(inner[ihl+6:]); s != 0 {
			if s = csumUpdate(s, addrs[:], inner[12:20]); s == 0 {
				s = 0xffff
			}
			setSum(inner[ihl+6:], s)
		}
	}
	setSum(m[2:], csumUpdate(binary.BigEndian.Uint16(m[2:]), old, region))
	return true
}

func fragOffset(ip []byte) int { return int(binary.BigEndian.Uint16(ip[6:]) & 0x1fff) }

func setSum(b []byte, s uint16) { binary.BigEndian.PutUint16(b, s) }

// csumUpdate returns the Internet checksum sum adjusted for the 16-bit
// aligned bytes old having become new (RFC 1624, equation 3).
func csumUpdate(sum uint16, old, new []byte) uint16 {
	x := uint32(^sum)
	for i := 0; i+1 < len(old); i += 2 {
		x += uint32(^binary.BigEndian.Uint16(old[i:]))
		x += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	for x > 0xffff {
		x = x&0xffff + x>>16
	}
	return ^uint16(x)
}
