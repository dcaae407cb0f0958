package filter

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes and IP protocols the parser understands.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100
	etherQinQ  = 0x88a8
	protoTCP   = 6
	protoUDP   = 17
	ethHdrLen  = 14
	vlanTagLen = 4
)

// packet is the one parse of a frame that a Decide call shares between all
// rules: offsets into the frame and the header fields matchers read. It is
// a value on the caller's stack; parsing allocates nothing.
//
// Offsets are always valid once parsed: l3 is where the Ethernet payload
// starts (after one optional 802.1Q tag), l4 where the IP payload starts
// (l3 for non-IP frames), payload where the TCP/UDP payload starts (l4 for
// other protocols), end where the IP packet ends (Ethernet padding excluded).
type packet struct {
	parsed    bool
	ipVersion uint8 // 4, 6, or 0 for non-IP
	hasProto  bool
	hasPorts  bool // TCP or UDP header present (first fragment only)
	isTCP     bool
	proto     uint8
	tcpFlags  uint8
	etherType uint16
	sport     uint16
	dport     uint16
	l3        int
	l4        int
	payload   int
	end       int
	src, dst  netip.Addr
}

func (p *packet) ensure(f []byte) {
	if !p.parsed {
		p.parse(f)
	}
}

func (p *packet) parse(f []byte) {
	*p = packet{parsed: true, l3: len(f), l4: len(f), payload: len(f), end: len(f)}
	if len(f) < ethHdrLen {
		return
	}
	et := binary.BigEndian.Uint16(f[12:14])
	off := ethHdrLen
	if (et == etherVLAN || et == etherQinQ) && len(f) >= ethHdrLen+vlanTagLen {
		et = binary.BigEndian.Uint16(f[16:18])
		off += vlanTagLen
	}
	p.etherType, p.l3, p.l4, p.payload = et, off, off, off
	switch et {
	case etherIPv4:
		p.parseIPv4(f, off)
	case etherIPv6:
		p.parseIPv6(f, off)
	}
}

func (p *packet) parseIPv4(f []byte, off int) {
	if len(f) < off+20 || f[off]>>4 != 4 {
		return
	}
	ihl := int(f[off]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(f[off+2:]))
	if ihl < 20 || len(f) < off+ihl || total < ihl {
		return
	}
	p.ipVersion, p.hasProto, p.proto = 4, true, f[off+9]
	p.src = netip.AddrFrom4([4]byte(f[off+12 : off+16]))
	p.dst = netip.AddrFrom4([4]byte(f[off+16 : off+20]))
	p.end = min(len(f), off+total)
	p.l4, p.payload = off+ihl, off+ihl
	if binary.BigEndian.Uint16(f[off+6:])&0x1fff != 0 {
		return // a later fragment: no transport header
	}
	p.parseL4(f)
}

func (p *packet) parseIPv6(f []byte, off int) {
	if len(f) < off+40 || f[off]>>4 != 6 {
		return
	}
	p.ipVersion, p.hasProto, p.proto = 6, true, f[off+6]
	p.src = netip.AddrFrom16([16]byte(f[off+8 : off+24]))
	p.dst = netip.AddrFrom16([16]byte(f[off+24 : off+40]))
	p.end = min(len(f), off+40+int(binary.BigEndian.Uint16(f[off+4:])))
	p.l4, p.payload = off+40, off+40
	p.parseL4(f) // extension headers are not walked: proto is the first next-header
}

func (p *packet) parseL4(f []byte) {
	l4 := p.l4
	switch p.proto {
	case protoUDP:
		if p.end < l4+8 {
			return
		}
		p.payload = l4 + 8
	case protoTCP:
		if p.end < l4+20 {
			return
		}
		doff := int(f[l4+12]>>4) * 4
		if doff < 20 || p.end < l4+doff {
			return
		}
		p.isTCP, p.tcpFlags, p.payload = true, f[l4+13], l4+doff
	default:
		return
	}
	p.hasPorts = true
	p.sport = binary.BigEndian.Uint16(f[l4:])
	p.dport = binary.BigEndian.Uint16(f[l4+2:])
}

// l3Len is the frame's network-layer size, what an interface MTU limits.
func (p *packet) l3Len(f []byte) int { return len(f) - p.l3 }
