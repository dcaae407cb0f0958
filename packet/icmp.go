package packet

import "gvisor.dev/gvisor/pkg/tcpip/header"

// The accessors below read the frame h was parsed from; they return views
// into it (writable in place, never copied) and never allocate.

// ARP returns the frame's ARP packet as gVisor's view (Op, and the
// sender's and target's hardware and protocol addresses), or nil unless
// the frame holds a whole ARP packet for IPv4 over Ethernet: RFC 826 with
// 6-byte hardware and 4-byte protocol addresses, the only kind an Ethernet
// host with IPv4 sends or answers.
func (h *Headers) ARP(frame []byte) header.ARP {
	if h.EtherType != EtherTypeARP || len(frame)-h.L3 < header.ARPSize {
		return nil
	}
	a := header.ARP(frame[h.L3 : h.L3+header.ARPSize])
	if !a.IsValid() {
		return nil
	}
	return a
}

// ICMPv4 returns the ICMP message an IPv4 packet carries (L4 to End) as
// gVisor's view, or nil unless the frame holds at least its 8-byte header
// and the packet is not a later fragment.
func (h *Headers) ICMPv4(frame []byte) header.ICMPv4 {
	if h.IPVersion != 4 || h.Proto != ProtoICMP || h.FragOffset != 0 || h.End-h.L4 < header.ICMPv4MinimumSize {
		return nil
	}
	return header.ICMPv4(frame[h.L4:h.End])
}

// ICMPv6 returns the ICMPv6 message an IPv6 packet carries (L4 to End,
// after the extension headers) as gVisor's view, or nil unless the frame
// holds at least its 8-byte header and the packet is not a later fragment.
func (h *Headers) ICMPv6(frame []byte) header.ICMPv6 {
	if h.IPVersion != 6 || h.Proto != ProtoICMPv6 || h.FragOffset != 0 || h.End-h.L4 < header.ICMPv6MinimumSize {
		return nil
	}
	return header.ICMPv6(frame[h.L4:h.End])
}

// icmpErrorLen is the header of every ICMP and ICMPv6 error: type, code,
// checksum and 4 bytes of the type's own; the quoted packet follows.
const icmpErrorLen = 8

// ParseQuoted parses into q the IP packet that an ICMP or ICMPv6 error
// message in the frame quotes: the packet that caused the error, as much
// of it as the message holds (RFC 792: its header and 64 bits; RFC 4443:
// as much as fits the minimum MTU). The errors are ICMP's destination
// unreachable, source quench, redirect, time exceeded and parameter
// problem, and ICMPv6's destination unreachable, packet too big, time
// exceeded and parameter problem; the quoted header must be of the same IP
// version as the message's. IPv6 extension headers are walked as Parse
// walks them, and the TCP or UDP header read when whole.
//
// q's offsets index frame and lie between the quote's start and h.End;
// q.EtherType is the quoted IP version's, its MACs and VLAN tags are
// zero, and q.Cut is set when the quote holds less than the quoted
// header's length says (the usual case). ParseQuoted reports whether it
// found a quoted header; if not, q is empty (its offsets all h.End). It
// never allocates.
func (h *Headers) ParseQuoted(frame []byte, q *Headers) bool {
	*q = Headers{L3: h.End, L4: h.End, Payload: h.End, End: h.End}
	if m := h.ICMPv4(frame); m != nil && quotesV4(m.Type()) {
		q.EtherType = EtherTypeIPv4
	} else if m := h.ICMPv6(frame); m != nil && quotesV6(m.Type()) {
		q.EtherType = EtherTypeIPv6
	} else {
		return false
	}
	start := h.L4 + icmpErrorLen
	q.L3, q.L4, q.Payload = start, start, start
	quote := frame[:h.End] // the quoted packet ends with the message
	if q.EtherType == EtherTypeIPv4 {
		q.ipv4(quote)
	} else {
		q.ipv6(quote)
	}
	if q.IPVersion == 0 {
		*q = Headers{L3: h.End, L4: h.End, Payload: h.End, End: h.End}
		return false
	}
	return true
}

// quotesV4 reports whether an ICMP message of type t is an error quoting
// the packet that caused it.
func quotesV4(t header.ICMPv4Type) bool {
	switch t {
	case header.ICMPv4DstUnreachable, header.ICMPv4SrcQuench, header.ICMPv4Redirect,
		header.ICMPv4TimeExceeded, header.ICMPv4ParamProblem:
		return true
	}
	return false
}

// quotesV6 is quotesV4 for ICMPv6: the four error types RFC 4443 defines.
func quotesV6(t header.ICMPv6Type) bool {
	switch t {
	case header.ICMPv6DstUnreachable, header.ICMPv6PacketTooBig, header.ICMPv6TimeExceeded, header.ICMPv6ParamProblem:
		return true
	}
	return false
}
