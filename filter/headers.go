package filter

import "l2hub/packet"

// frameHeaders is the one parse of a frame that a Decide call shares
// between all its rules, made when the first rule needs it (packet.Parse:
// it allocates nothing).
type frameHeaders struct {
	parsed bool
	packet.Headers
}

func (p *frameHeaders) ensure(f []byte) {
	if !p.parsed {
		packet.Parse(f, &p.Headers)
		p.parsed = true
	}
}

// corruptSpan is the part [lo, hi) of a frame of n bytes that corrupt's
// skip leaves to be damaged; lo >= hi when nothing is, and the frame is
// left alone. ethernet: all past the Ethernet header and its VLAN tags (to
// the IP packet's end, padding excluded). ip: an IP packet's payload, past
// its header and the IPv6 extension headers walked; nothing for a frame
// that is not IP (ARP) or whose header chain could not be followed. transport:
// a TCP or UDP payload, within the UDP length; nothing for other protocols
// (ICMP, IGMP), for fragments without the transport header, and for a
// transport header the frame cuts short.
func (p *frameHeaders) corruptSpan(skip skipLevel, n int) (lo, hi int) {
	h := &p.Headers
	hi = min(h.End, n)
	switch skip {
	case skipEthernet:
		return h.L3, hi
	case skipIP:
		if h.IPVersion == 0 || h.L4 == h.L3 {
			return 0, 0
		}
		return h.L4, hi
	case skipTransport:
		if !h.HasPorts {
			return 0, 0
		}
		if !h.TCP && !h.Fragment && h.UDPLen >= 8 && h.L4+h.UDPLen < hi {
			hi = h.L4 + h.UDPLen // what follows the datagram is not its payload
		}
		return h.Payload, hi
	}
	return 0, n
}
