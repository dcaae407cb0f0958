package replay

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/packet"
)

// A frame cut short by a snaplen is given to the hub at its length on the
// wire, the bytes the capture lacks zero. A rule that reads bytes the
// capture kept decides on it as the live hub did; one that reads bytes it
// lacks reads zeros, and what it makes of them is a what-if (cut_read).
// Which bytes a rule reads is told per frame: its criteria (from the
// policy's description of it, the only view filter gives of a rule) and
// the headers the captured bytes hold (packet.Parse).

// needs is what a rule's criteria read of a frame.
type needs uint8

const (
	needL2    needs = 1 << iota // the EtherType after the VLAN tags (ethertype, vlan, qinq; corrupt skip ethernet)
	needIP                      // the IP header (src_ip, dst_ip)
	needProto                   // the IP protocol, past IPv6's extension headers (protocol; corrupt skip ip)
	needL4                      // a whole TCP or UDP header (ports, tcp_flags; corrupt skip transport)
)

// byteRule is what one rule reads of a frame, and the ports it applies to
// as a frame's ingress.
type byteRule struct {
	needs   needs
	payload []byte // a payload or payload_hex prefix
	// from are the names from= lists, links' the ingress sides of link=
	// (an a<->b link has both); nil is any. A name that is no port (a
	// group) may be any port.
	from  []string
	links []string
}

// byteReads is what the rules of the policy in force read of a frame's
// bytes past its MAC addresses; nil when none reads any.
type byteReads struct {
	any   bool // a policy that is not a policy file's: it may read anything
	rules []byteRule
}

// readsBytes returns what p's rules read of a frame's bytes, nil when
// they read none past the MAC addresses (a match on ports, MACs,
// lengths, times and counts; actions that do not look at the bytes).
func readsBytes(p hub.Policy) *byteReads {
	fp, ok := p.(*filter.Policy)
	if !ok {
		if p == nil {
			return nil
		}
		return &byteReads{any: true}
	}
	var br byteReads
	for _, r := range fp.Describe(0).Rules { // Describe(0) moves no clock back
		if rule, ok := parseByteRule(r); ok {
			br.rules = append(br.rules, rule)
		}
	}
	if len(br.rules) == 0 {
		return nil
	}
	return &br
}

// parseByteRule reads a rule's description (filter.RuleDescription's
// Match, "from=a protocol=17 payload=\"NXSB\"", and Actions, "corrupt 5%
// bits 1 skip transport"). ok is false when the rule reads no bytes.
func parseByteRule(d filter.RuleDescription) (br byteRule, ok bool) {
	for key, val := range matchFields(d.Match) {
		switch key {
		case "from":
			br.from = strings.Split(val, ",")
		case "link":
			for _, l := range strings.Split(val, ",") {
				if a, b, both := strings.Cut(l, "<->"); both {
					br.links = append(br.links, a, b)
				} else if a, _, ok := strings.Cut(l, "->"); ok {
					br.links = append(br.links, a)
				}
			}
		case "ethertype", "vlan", "qinq":
			br.needs |= needL2
		case "src_ip", "dst_ip":
			br.needs |= needIP
		case "protocol":
			br.needs |= needProto
		case "src_port", "dst_port", "tcp_flags":
			br.needs |= needL4
		case "payload":
			if s, err := strconv.Unquote(val); err == nil {
				br.payload = []byte(s)
			}
		case "payload_hex":
			if b, err := hex.DecodeString(val); err == nil {
				br.payload = b
			}
		}
	}
	for _, a := range d.Actions {
		if !strings.HasPrefix(a, "corrupt ") {
			continue
		}
		_, skip, _ := strings.Cut(a, " skip ")
		switch skip {
		case "ethernet":
			br.needs |= needL2
		case "ip":
			br.needs |= needProto
		case "transport":
			br.needs |= needL4
		}
	}
	return br, br.needs != 0 || br.payload != nil
}

// matchFields yields the key=value criteria of a rule's match description;
// a quoted value (payload, tcp_flags) is yielded quoted.
func matchFields(m string) func(yield func(key, val string) bool) {
	return func(yield func(key, val string) bool) {
		for m = strings.TrimSpace(m); m != ""; m = strings.TrimSpace(m) {
			key, rest, ok := strings.Cut(m, "=")
			if !ok {
				return
			}
			val := rest
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				val = q
			} else if i := strings.IndexByte(rest, ' '); i >= 0 {
				val = rest[:i]
			}
			if !yield(key, val) {
				return
			}
			m = rest[len(val):]
		}
	}
}

// lacks reports whether a rule that applies to frames entering port from
// reads bytes of a frame that the captured bytes data lack (data is cut
// short). isPort tells a port's name from a group's.
func (br *byteReads) lacks(from string, data []byte, isPort func(string) bool) bool {
	if br == nil {
		return false
	}
	if br.any {
		return true
	}
	var h packet.Headers
	packet.Parse(data, &h)
	for _, r := range br.rules {
		if r.appliesTo(from, isPort) && !r.captured(data, &h) {
			return true
		}
	}
	return false
}

// appliesTo reports whether r may apply to a frame entering port from.
func (r byteRule) appliesTo(from string, isPort func(string) bool) bool {
	may := func(names []string) bool {
		if names == nil {
			return true
		}
		for _, n := range names {
			if n == from || !isPort(n) {
				return true
			}
		}
		return false
	}
	return may(r.from) && may(r.links)
}

// captured reports whether the bytes r reads of a frame are among the
// captured bytes data, parsed as h.
func (r byteRule) captured(data []byte, h *packet.Headers) bool {
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
	case r.needs&needIP != 0 && !ipKnown,
		r.needs&needProto != 0 && !protoKnown,
		r.needs&needL4 != 0 && !l4Known:
		return false
	}
	if r.payload == nil {
		return true
	}
	// A payload criterion is a prefix of the TCP or UDP payload (of what
	// follows the Ethernet header for a frame that is not IP): the bytes
	// captured of it either hold it all or already differ from it.
	if !l4Known {
		return false
	}
	got := data[h.Payload:]
	if len(got) >= len(r.payload) {
		return true
	}
	return !bytes.HasPrefix(r.payload, got)
}
