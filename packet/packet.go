package packet

import (
	"encoding/binary"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// EtherTypes, IP protocols and sizes the parser knows.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100 // 802.1Q
	EtherTypeQinQ = 0x88a8 // 802.1ad, the outer tag of two
	EtherTypeIPv6 = 0x86dd

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58

	// EthernetLen is an Ethernet II header (no FCS, as the hub's frames).
	EthernetLen = header.EthernetMinimumSize
	// VLANTagLen is one 802.1Q or 802.1ad tag.
	VLANTagLen = 4
	// MaxVLANTags bounds the tags skipped: an 802.1ad outer tag and an
	// 802.1Q inner one.
	MaxVLANTags = 2
	// maxExtHeaders bounds the IPv6 extension headers walked.
	maxExtHeaders = 8
)

// IPv6 extension headers the parser walks to find the transport protocol.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6DestOpts = 60
)

// Headers is one parse of an Ethernet frame's headers: offsets into the
// frame and the fields the policy's matchers, the conformance checker and
// replay's rewriter read. It holds no reference to the frame; Parse fills it
// without allocating, so it lives on its caller's stack.
//
// The offsets are always valid indexes of the frame (0 <= L3 <= L4 <=
// Payload, and End <= len(frame)): L3 is where the Ethernet payload starts,
// after up to MaxVLANTags tags; L4 where the IP payload starts, after the
// IPv4 header or the IPv6 header and its extension headers (L3 for
// anything else); Payload where the TCP or UDP payload starts (L4 for
// other protocols and for fragments without the transport header); End
// where the IP packet ends, its Ethernet padding excluded (the frame's end
// for non-IP frames and for IP packets the frame cuts short).
type Headers struct {
	DstMAC, SrcMAC [6]byte
	// EtherType is the type after any VLAN tags; VLANTags says how many.
	EtherType uint16
	VLANTags  int

	L3, L4, Payload, End int

	// IPVersion is 4 or 6 for an IP packet whose header is whole and
	// consistent, 0 otherwise (ARP, a runt, a malformed header).
	IPVersion uint8
	// Proto is the IPv4 protocol, or the IPv6 next header after the
	// extension headers the parser walked (hop-by-hop, routing,
	// destination options, fragment); for a later IPv6 fragment, its
	// fragment header's next header (what follows is data). It is 0, with
	// L4 == L3, when the IPv6 chain cannot be followed: a header cut
	// short, more than maxExtHeaders, or a second fragment header.
	Proto    uint8
	Src, Dst netip.Addr
	TTL      uint8 // IPv4 TTL, IPv6 hop limit
	// Fragment is set for a fragment of an IP packet: IPv4's MF flag or an
	// offset, or an IPv6 fragment header. FragOffset is the offset in
	// 8-byte units: only the fragment at offset 0 holds the transport
	// header.
	Fragment   bool
	FragOffset uint16
	// Cut is set when the frame holds less of the IP packet than its
	// header says (a capture's snaplen).
	Cut bool
	// Routed is set for an IPv6 packet with a routing header that has
	// segments left: its final destination, which the transport's
	// checksum covers (RFC 8200 8.1), is in that header, not Dst.
	Routed bool

	// HasPorts is set when a whole TCP or UDP header is present (TCP tells
	// which); the ports, and TCP's flags and numbers, are valid then.
	HasPorts         bool
	TCP              bool
	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	// UDPLen is the UDP header's length field (header included).
	UDPLen int
}

// TCP flags, as in Headers.TCPFlags.
const (
	TCPFin = uint8(header.TCPFlagFin)
	TCPSyn = uint8(header.TCPFlagSyn)
	TCPRst = uint8(header.TCPFlagRst)
	TCPPsh = uint8(header.TCPFlagPsh)
	TCPAck = uint8(header.TCPFlagAck)
	TCPUrg = uint8(header.TCPFlagUrg)
)

// Parse parses frame's headers into h. It never reads past frame, never
// allocates, and stops at the first header it cannot follow, leaving the
// layers it understood.
func Parse(frame []byte, h *Headers) {
	*h = Headers{L3: len(frame), L4: len(frame), Payload: len(frame), End: len(frame)}
	if len(frame) < EthernetLen {
		return
	}
	copy(h.DstMAC[:], frame[0:6])
	copy(h.SrcMAC[:], frame[6:12])
	et := binary.BigEndian.Uint16(frame[12:14])
	off := EthernetLen
	for h.VLANTags < MaxVLANTags && (et == EtherTypeVLAN || et == EtherTypeQinQ) && len(frame) >= off+VLANTagLen {
		et = binary.BigEndian.Uint16(frame[off+2:])
		off += VLANTagLen
		h.VLANTags++
	}
	h.EtherType, h.L3, h.L4, h.Payload = et, off, off, off
	switch et {
	case EtherTypeIPv4:
		h.ipv4(frame)
	case EtherTypeIPv6:
		h.ipv6(frame)
	}
}

func (h *Headers) ipv4(frame []byte) {
	b := frame[h.L3:]
	if len(b) < header.IPv4MinimumSize || header.IPVersion(b) != header.IPv4Version {
		return
	}
	ip := header.IPv4(b)
	ihl, total := int(ip.HeaderLength()), int(ip.TotalLength())
	if ihl < header.IPv4MinimumSize || len(b) < ihl || total < ihl {
		return
	}
	h.IPVersion, h.Proto, h.TTL = 4, ip.Protocol(), ip.TTL()
	h.Src = netip.AddrFrom4([4]byte(ip.SourceAddressSlice()))
	h.Dst = netip.AddrFrom4([4]byte(ip.DestinationAddressSlice()))
	h.Cut = len(b) < total
	h.End = h.L3 + min(len(b), total)
	h.L4, h.Payload = h.L3+ihl, h.L3+ihl
	h.FragOffset = ip.FragmentOffset() / 8
	h.Fragment = ip.More() || h.FragOffset != 0
	if h.FragOffset == 0 {
		h.transport(frame)
	}
}

func (h *Headers) ipv6(frame []byte) {
	b := frame[h.L3:]
	if len(b) < header.IPv6MinimumSize || header.IPVersion(b) != header.IPv6Version {
		return
	}
	ip := header.IPv6(b)
	total := header.IPv6MinimumSize + int(ip.PayloadLength())
	h.IPVersion, h.TTL = 6, ip.HopLimit()
	h.Src = netip.AddrFrom16([16]byte(ip.SourceAddressSlice()))
	h.Dst = netip.AddrFrom16([16]byte(ip.DestinationAddressSlice()))
	h.Cut = len(b) < total
	h.End = h.L3 + min(len(b), total)
	off, next := h.L3+header.IPv6MinimumSize, ip.NextHeader()
	for range maxExtHeaders + 1 { // the extension headers, then the transport's
		var n int
		switch next {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
			if h.End < off+8 {
				return // the header is cut: the transport is unknown
			}
			n = 8 + 8*int(frame[off+1])
			if next == ipv6Routing && frame[off+3] != 0 { // segments left
				h.Routed = true
			}
		case ipv6Fragment:
			if h.End < off+8 || h.Fragment {
				return // cut, or a second fragment header (RFC 8200 4.1: one)
			}
			fo := binary.BigEndian.Uint16(frame[off+2:])
			h.Fragment, h.FragOffset = true, fo>>3
			if h.FragOffset != 0 {
				// A later fragment: what follows its fragment header
				// is a piece of the packet's data, not headers.
				h.Proto, h.L4, h.Payload = frame[off], off+8, off+8
				return
			}
			n = 8
		default:
			h.Proto, h.L4, h.Payload = next, off, off
			if h.FragOffset == 0 {
				h.transport(frame)
			}
			return
		}
		if h.End < off+n {
			return
		}
		next = frame[off]
		off += n
	}
}

// transport reads the TCP or UDP header at L4, if it is whole.
func (h *Headers) transport(frame []byte) {
	l4 := h.L4
	switch h.Proto {
	case ProtoUDP:
		if h.End < l4+header.UDPMinimumSize {
			return
		}
		u := header.UDP(frame[l4:])
		h.UDPLen = int(u.Length())
		h.SrcPort, h.DstPort = u.SourcePort(), u.DestinationPort()
		h.Payload = l4 + header.UDPMinimumSize
	case ProtoTCP:
		if h.End < l4+header.TCPMinimumSize {
			return
		}
		t := header.TCP(frame[l4:])
		doff := int(t.DataOffset())
		if doff < header.TCPMinimumSize || h.End < l4+doff {
			return
		}
		h.TCP, h.TCPFlags = true, uint8(t.Flags())
		h.SrcPort, h.DstPort = t.SourcePort(), t.DestinationPort()
		h.Seq, h.Ack = t.SequenceNumber(), t.AckNumber()
		h.Payload = l4 + doff
	default:
		return
	}
	h.HasPorts = true
}

// AddrBytes returns the IP header's source and destination addresses as
// the frame holds them, one after the other (8 bytes for IPv4, 32 for
// IPv6: what a transport's pseudo-header sums), writable in place; nil
// without an IP header.
func (h *Headers) AddrBytes(frame []byte) []byte {
	switch h.IPVersion {
	case 4:
		return frame[h.L3+12 : h.L3+20]
	case 6:
		return frame[h.L3+8 : h.L3+40]
	}
	return nil
}

// L3Len is the frame's network-layer size, what an interface MTU limits.
func (h *Headers) L3Len(frame []byte) int { return len(frame) - h.L3 }

// UDPPayload returns a UDP datagram's payload: from Payload to the end the
// UDP length gives, within the IP packet; nil unless the frame holds a UDP
// header whose length is at least the header's (a cut frame's payload
// ends where the frame does).
func (h *Headers) UDPPayload(frame []byte) []byte {
	if !h.HasPorts || h.TCP || !h.UDPLenOK() {
		return nil
	}
	return frame[h.Payload:min(h.End, h.L4+h.UDPLen)]
}

// UDPLenOK reports whether a UDP header's length field is consistent: at
// least the header and, unless the frame is cut, within the IP packet.
func (h *Headers) UDPLenOK() bool {
	return h.UDPLen >= header.UDPMinimumSize && (h.Cut || h.L4+h.UDPLen <= h.End)
}
