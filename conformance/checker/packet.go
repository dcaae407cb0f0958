package checker

import (
	"net/netip"

	hdr "l2hub/packet"
)

// Layer kinds a frame parses to.
type pktKind uint8

const (
	pktOther pktKind = iota // not IP (ARP, ...), or a malformed IP header
	pktIP                   // IPv4 or IPv6, not UDP or TCP, or a fragment
	pktUDP
	pktTCP
)

// TCP flags.
const (
	tcpFIN = hdr.TCPFin
	tcpSYN = hdr.TCPSyn
	tcpRST = hdr.TCPRst
	tcpACK = hdr.TCPAck
)

// packet is one frame's headers as the checker reads them. Payload aliases
// the frame.
type packet struct {
	kind     pktKind
	dstMAC   [6]byte
	srcMAC   [6]byte
	src, dst netip.Addr
	ttl      uint8
	// fragment: the IP packet is a fragment (IPv4 MF or an offset, an IPv6
	// fragment header).
	fragment bool
	// cut: the capture holds less than the IP packet (snaplen).
	cut bool
	// badSum: the IPv4, UDP or TCP checksum does not verify.
	badSum           bool
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	payload          []byte
	// arpOp is an ARP frame's operation (1 request, 2 reply; kind
	// pktOther), 0 for any other frame; arpSender and arpTarget are its
	// protocol addresses.
	arpOp                uint16
	arpSender, arpTarget netip.Addr
}

func (p *packet) srcAP() netip.AddrPort { return netip.AddrPortFrom(p.src, p.srcPort) }
func (p *packet) dstAP() netip.AddrPort { return netip.AddrPortFrom(p.dst, p.dstPort) }

// parsePacket reads frame's headers (package packet, l2hub's one parser:
// Ethernet with VLAN tags, IPv4 or IPv6, UDP or TCP) into p. It never reads
// past frame and never allocates; anything it cannot follow leaves p.kind
// at the last layer it understood.
func parsePacket(frame []byte, p *packet) {
	var h hdr.Headers
	hdr.Parse(frame, &h)
	*p = packet{dstMAC: h.DstMAC, srcMAC: h.SrcMAC}
	if a := h.ARP(frame); a != nil {
		p.arpOp = uint16(a.Op())
		p.arpSender = netip.AddrFrom4([4]byte(a.ProtocolAddressSender()))
		p.arpTarget = netip.AddrFrom4([4]byte(a.ProtocolAddressTarget()))
		return
	}
	if h.IPVersion == 0 {
		return
	}
	p.kind, p.src, p.dst, p.ttl = pktIP, h.Src, h.Dst, h.TTL
	p.badSum = !h.ChecksumsOK(frame)
	if h.Fragment {
		p.fragment = true
		return
	}
	p.cut = h.Cut
	switch {
	case h.HasPorts && h.TCP:
		p.kind = pktTCP
		p.srcPort, p.dstPort = h.SrcPort, h.DstPort
		p.seq, p.ack, p.flags = h.Seq, h.Ack, h.TCPFlags
		p.payload = frame[h.Payload:h.End]
	case h.HasPorts && h.UDPLenOK():
		p.kind = pktUDP
		p.srcPort, p.dstPort = h.SrcPort, h.DstPort
		p.payload = h.UDPPayload(frame)
	}
}
