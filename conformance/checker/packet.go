package checker

import (
	"encoding/binary"
	"net/netip"
)

// Layer kinds a frame parses to.
type pktKind uint8

const (
	pktOther pktKind = iota // not IPv4 (ARP, IPv6, ...)
	pktIPv4                 // IPv4, not UDP or TCP, or a fragment
	pktUDP
	pktTCP
)

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

const (
	ethHeaderLen  = 14
	etherTypeIPv4 = 0x0800
	etherTypeVLAN = 0x8100
	protoTCP      = 6
	protoUDP      = 17
)

// packet is one frame's headers. Payload aliases the frame.
type packet struct {
	kind     pktKind
	dstMAC   [6]byte
	srcMAC   [6]byte
	src, dst netip.Addr
	ttl      uint8
	// fragment: the IPv4 datagram is a fragment (MF set or an offset).
	fragment bool
	// cut: the capture holds less than the IP datagram (snaplen).
	cut bool
	// badSum: the IPv4, UDP or TCP checksum does not verify.
	badSum           bool
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	payload          []byte
}

func (p *packet) srcAP() netip.AddrPort { return netip.AddrPortFrom(p.src, p.srcPort) }
func (p *packet) dstAP() netip.AddrPort { return netip.AddrPortFrom(p.dst, p.dstPort) }

// parsePacket decodes Ethernet II (one optional 802.1Q tag), IPv4 and UDP or
// TCP from frame into p. It never reads past frame and never allocates;
// anything it cannot follow leaves p.kind at the last layer it understood.
func parsePacket(frame []byte, p *packet) {
	*p = packet{}
	if len(frame) < ethHeaderLen {
		return
	}
	copy(p.dstMAC[:], frame[0:6])
	copy(p.srcMAC[:], frame[6:12])
	et := binary.BigEndian.Uint16(frame[12:14])
	b := frame[ethHeaderLen:]
	if et == etherTypeVLAN {
		if len(b) < 4 {
			return
		}
		et = binary.BigEndian.Uint16(b[2:4])
		b = b[4:]
	}
	if et != etherTypeIPv4 || len(b) < 20 || b[0]>>4 != 4 {
		return
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < ihl {
		return
	}
	p.kind = pktIPv4
	p.src = netip.AddrFrom4([4]byte(b[12:16]))
	p.dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.ttl = b[8]
	if checksum(0, b[:ihl]) != 0xffff {
		p.badSum = true
	}
	fragField := binary.BigEndian.Uint16(b[6:8])
	if fragField&0x2000 != 0 || fragField&0x1fff != 0 {
		p.fragment = true
		return
	}
	if len(b) < total {
		p.cut = true
	} else {
		b = b[:total] // drop Ethernet padding
	}
	proto := b[9]
	l4 := b[ihl:]
	switch proto {
	case protoUDP:
		if len(l4) < 8 {
			return
		}
		ulen := int(binary.BigEndian.Uint16(l4[4:6]))
		if ulen < 8 || (!p.cut && ulen > len(l4)) {
			return
		}
		p.kind = pktUDP
		p.srcPort = binary.BigEndian.Uint16(l4[0:2])
		p.dstPort = binary.BigEndian.Uint16(l4[2:4])
		if !p.cut {
			l4 = l4[:ulen]
			if sum := binary.BigEndian.Uint16(l4[6:8]); sum != 0 && l4Checksum(b[12:20], protoUDP, l4) != 0xffff {
				p.badSum = true
			}
		}
		p.payload = l4[8:min(len(l4), ulen)]
	case protoTCP:
		if len(l4) < 20 {
			return
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return
		}
		p.kind = pktTCP
		p.srcPort = binary.BigEndian.Uint16(l4[0:2])
		p.dstPort = binary.BigEndian.Uint16(l4[2:4])
		p.seq = binary.BigEndian.Uint32(l4[4:8])
		p.ack = binary.BigEndian.Uint32(l4[8:12])
		p.flags = l4[13]
		if !p.cut && l4Checksum(b[12:20], protoTCP, l4) != 0xffff {
			p.badSum = true
		}
		p.payload = l4[off:]
	}
}

// checksum adds b to the one's-complement sum sum and folds it.
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// l4Checksum sums the IPv4 pseudo-header (addrs is src ‖ dst) and the
// segment; a correct segment gives 0xffff.
func l4Checksum(addrs []byte, proto uint8, seg []byte) uint16 {
	var sum uint32
	for i := 0; i < 8; i += 2 {
		sum += uint32(addrs[i])<<8 | uint32(addrs[i+1])
	}
	sum += uint32(proto) + uint32(len(seg))
	return checksum(sum, seg)
}
