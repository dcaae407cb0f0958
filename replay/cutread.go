package replay

import (
	"bytes"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/packet"
)

// A frame cut short by a snaplen is given to the hub at its length on the
// wire, the bytes the capture lacks zero. A rule that reads bytes the
// capture kept decides on it as the live hub did; one that reads bytes it
// lacks reads zeros, and what it makes of them is a what-if (cut_read).
// Which bytes a rule reads is told per frame: the headers and payload
// prefix the compiled rule reads (filter.Policy.Reads), on the links the
// frame takes, and the headers the captured bytes hold (packet.Parse).

// byteReads is what the rules of the policy in force read of a frame's
// bytes; nil when none reads any.
type byteReads struct {
	any   bool // a policy that is not a policy file's: it may read anything
	rules []filter.RuleReads
}

// readsBytes returns what p's rules read of a frame's bytes, nil when
// they read none (a match on ports, lengths, times and counts; actions
// that do not look at the bytes).
func readsBytes(p hub.Policy) *byteReads {
	fp, ok := p.(*filter.Policy)
	if !ok {
		if p == nil {
			return nil
		}
		return &byteReads{any: true}
	}
	var br byteReads
	for _, r := range fp.Reads() {
		if r.ReadsBytes() {
			br.rules = append(br.rules, r)
		}
	}
	if len(br.rules) == 0 {
		return nil
	}
	return &br
}

// egress is where the hub sends a frame, as the replay tells it before the
// core decides: to one port (a switch's unicast to a learned MAC), to none
// (a switch's reflect), or to every port but the frame's own (a flood).
type egress struct {
	none   bool
	one    string            // the one port; "" for a flood
	isPort func(string) bool // a flood: the hub has a port of that name
}

// lacks reports whether a rule that decides on a frame entering port from
// and leaving by out reads bytes of it that the captured bytes data lack
// (data is cut short).
func (br *byteReads) lacks(from string, out egress, data []byte) bool {
	if br == nil || out.none {
		return false
	}
	if br.any {
		return true
	}
	var h packet.Headers
	packet.Parse(data, &h)
	for _, r := range br.rules {
		if appliesTo(r, from, out) && !captured(r, data, &h) {
			return true
		}
	}
	return false
}

// appliesTo reports whether r decides on a frame entering port from and
// leaving by out: on one of the links it takes.
func appliesTo(r filter.RuleReads, from string, out egress) bool {
	if out.one != "" {
		return r.On(from, out.one)
	}
	other := func(to string) bool { return to != from && out.isPort(to) && r.On(from, to) }
	switch {
	case r.Links != nil:
		for _, l := range r.Links {
			if l[0] == from && other(l[1]) {
				return true
			}
		}
		return false
	case r.To != nil:
		for _, to := range r.To {
			if other(to) {
				return true
			}
		}
		return false
	}
	return r.On(from, "")
}

// captured reports whether the bytes r reads of a frame are among the
// captured bytes data, parsed as h.
func captured(r filter.RuleReads, data []byte, h *packet.Headers) bool {
	needs := r.Headers()
	if needs&filter.HeaderMAC != 0 && len(data) < 12 {
		return false
	}
	if needs&^filter.HeaderMAC == 0 && r.Payload == nil {
		return true
	}
	l2 := len(data) >= packet.EthernetLen &&
		!((h.EtherType == packet.EtherTypeVLAN || h.EtherType == packet.EtherTypeQinQ) && h.VLANTags < packet.MaxVLANTags)
	if !l2 {
		return false // the EtherType, and so what follows, is unknown
	}
	ip := h.EtherType == packet.EtherTypeIPv4 || h.EtherType == packet.EtherTypeIPv6
	// A frame that is not IP has no IP header, protocol or ports: a rule
	// on them does not match it, whatever the bytes it lacks.
	ipKnown := !ip || h.IPVersion != 0
	protoKnown := ipKnown && (!ip || h.IPVersion == 4 || h.L4 > h.L3)
	l4Known := protoKnown && (!ip || h.FragOffset != 0 ||
		(h.Proto != packet.ProtoTCP && h.Proto != packet.ProtoUDP) || h.HasPorts)
	switch {
	case needs&filter.HeaderIP != 0 && !ipKnown,
		needs&filter.HeaderProtocol != 0 && !protoKnown,
		needs&filter.HeaderTransport != 0 && !l4Known:
		return false
	}
	if r.Payload == nil {
		return true
	}
	// A payload criterion is a prefix of the TCP or UDP payload (of what
	// follows the Ethernet header for a frame that is not IP): the bytes
	// captured of it either hold it all or already differ from it.
	if !l4Known {
		return false
	}
	got := data[h.Payload:]
	if len(got) >= len(r.Payload) {
		return true
	}
	return !bytes.HasPrefix(r.Payload, got)
}
