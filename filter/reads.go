package filter

import (
	"slices"
	"strings"
)

// Headers is a set of a frame's headers, as packet.Parse finds them: what
// a rule reads of a frame's bytes, so that a tool holding only part of a
// frame (a capture cut by a snaplen) can tell whether the rule's decision
// rests on bytes it has.
type Headers uint8

const (
	// HeaderMAC: the destination and source MAC addresses (the frame's
	// first 12 bytes).
	HeaderMAC Headers = 1 << iota
	// HeaderEtherType: the VLAN tags and the EtherType after them, and so
	// where the Ethernet payload starts (packet.Headers.L3).
	HeaderEtherType
	// HeaderIP: the IP header's addresses.
	HeaderIP
	// HeaderProtocol: the IP protocol, past IPv6's extension headers (and
	// so where the transport header starts, packet.Headers.L4).
	HeaderProtocol
	// HeaderTransport: a whole TCP or UDP header (ports, flags; and so
	// where its payload starts, packet.Headers.Payload).
	HeaderTransport
)

var headerNames = [...]string{"mac", "ethertype", "ip", "protocol", "transport"}

// String lists the headers: "ethertype|transport"; "none" for none.
func (h Headers) String() string {
	var s []string
	for i, n := range headerNames {
		if h&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "|")
}

// RuleReads is what one compiled rule reads of a frame's bytes, and the
// links it applies to. It is computed from the rule's compiled match and
// impairments, whichever front end wrote them.
type RuleReads struct {
	Rule string
	// Match are the headers the rule's criteria read (a criterion on a
	// frame's length, time or match count reads no byte).
	Match Headers
	// Payload is the payload or payload_hex prefix the criteria compare,
	// nil for none. It is compared at the start of the frame's payload as
	// packet.Headers.Payload places it: a TCP or UDP payload, or what
	// follows the Ethernet header and its tags for a frame that is not IP
	// (so it reads HeaderTransport's bytes too, or HeaderEtherType's).
	Payload []byte
	// MTU: the rule's mtu reads where the IP packet starts
	// (HeaderEtherType) to size it.
	MTU bool
	// CorruptSkip is the headers corrupt's skip level leaves alone ("none",
	// "ethernet", "ip", "transport", as CorruptSpec.Skip), which it must
	// find to know where to damage a frame; "" when the rule does not
	// corrupt.
	CorruptSkip string
	// From and To are the ingress and egress ports the rule applies to,
	// Links the (ingress, egress) pairs, groups expanded to their ports and
	// sorted; nil is any. A link a<->b is both a->b and b->a.
	From, To []string
	Links    [][2]string
}

// Headers are all the headers the rule reads of a frame to decide on it
// and act: its criteria's, its mtu's and its corrupt skip level's.
func (r RuleReads) Headers() Headers {
	h := r.Match
	if r.MTU {
		h |= HeaderEtherType
	}
	switch r.CorruptSkip {
	case "ethernet":
		h |= HeaderEtherType
	case "ip":
		h |= HeaderProtocol
	case "transport":
		h |= HeaderTransport
	}
	return h
}

// ReadsBytes reports whether the rule reads any of a frame's bytes.
func (r RuleReads) ReadsBytes() bool { return r.Headers() != 0 || r.Payload != nil }

// On reports whether the rule applies to a frame on the link from->to, as
// the policy decides it (its from, to and link criteria).
func (r RuleReads) On(from, to string) bool {
	return (r.From == nil || slices.Contains(r.From, from)) &&
		(r.To == nil || slices.Contains(r.To, to)) &&
		(r.Links == nil || slices.Contains(r.Links, [2]string{from, to}))
}

// Reads lists what each of the policy's rules reads of a frame, in
// evaluation order. Safe for concurrent use with Decide; the result is
// the caller's.
func (p *Policy) Reads() []RuleReads {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]RuleReads, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.reads()
	}
	return out
}

func (r *rule) reads() RuleReads {
	m := &r.m
	rr := RuleReads{Rule: r.name, Match: m.reads(), Payload: slices.Clone(m.payload), MTU: r.mtu > 0}
	if c := r.corrupt; c != nil {
		rr.CorruptSkip = skipNames[c.skip]
	}
	if m.from != nil {
		rr.From = sortedKeys(m.from)
	}
	if m.to != nil {
		rr.To = sortedKeys(m.to)
	}
	if m.links != nil {
		rr.Links = make([][2]string, 0, len(m.links))
		for l := range m.links {
			rr.Links = append(rr.Links, l)
		}
		slices.SortFunc(rr.Links, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
	}
	return rr
}

// reads are the headers m's criteria read. A criterion added to matcher
// must be added here (TestReadsCoversMatcher).
func (m *matcher) reads() Headers {
	var h Headers
	if m.srcMAC != nil || m.dstMAC != nil || m.broadcast != triAny || m.multicast != triAny {
		h |= HeaderMAC
	}
	if m.etherType != nil || m.vlan != triAny || m.qinq != triAny {
		h |= HeaderEtherType
	}
	if m.srcIP != nil || m.dstIP != nil {
		h |= HeaderIP
	}
	if m.proto != nil {
		h |= HeaderProtocol
	}
	if m.srcPort.set || m.dstPort.set || m.tcpMask != 0 {
		h |= HeaderTransport
	}
	return h
}
