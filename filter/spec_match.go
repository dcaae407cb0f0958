package filter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"l2hub/packet"
)

// A rule's match, checked whole and compiled. Each criterion alone is
// checked where the policy file is parsed (yaml_match.go); problems finds
// the combinations of criteria that no frame meets (vlan: false with qinq:
// true, src_ip and dst_ip of two IP versions, a port with a protocol that
// has none), which the YAML front end reports at the value it blames and
// Compile (spec.go) for a Spec built in Go. compile turns a MatchSpec into
// the matcher and window Decide runs (match.go).

// A matchProblem is a combination of a rule's criteria that no frame
// meets, blamed on one of them (its key in the policy file).
type matchProblem struct {
	field string
	err   error
}

// problems lists the combinations of ms's criteria that no frame meets:
// each criterion alone is checked where it is written, these are what
// only the whole match shows. Each problem's field, set aside, ends it.
func (ms MatchSpec) problems() []matchProblem {
	var out []matchProblem
	for {
		pr, ok := ms.impossible()
		if !ok {
			return out
		}
		out = append(out, pr)
		ms.clear(pr.field)
	}
}

// impossible finds the first combination of ms's criteria that no frame
// meets. It blames only a field that is set, so clearing it ends the
// problem.
func (ms *MatchSpec) impossible() (matchProblem, bool) {
	// A list set but empty had what was in it refused where it was
	// written: the checks that need it are skipped.
	ports := !emptied(ms.From) && !emptied(ms.To) && !emptied(ms.Links)
	ips := !emptied(ms.SrcIP) && !emptied(ms.DstIP) && !emptied(ms.EtherTypes)
	in := func(set []string, n string) bool { return set == nil || slices.Contains(set, n) }
	other := func(l [2]string) bool { return l[0] != l[1] }
	switch {
	case ms.VLAN != nil && !*ms.VLAN && ms.QinQ != nil && *ms.QinQ:
		return matchProblem{"qinq", errors.New("true needs two VLAN tags, and vlan: false refuses every tagged frame (remove vlan: false)")}, true
	case !ports:
	case ms.Links != nil && !slices.ContainsFunc(ms.Links, other):
		return matchProblem{"link", errors.New("every link it names goes from a port to itself, which no frame does")}, true
	case ms.Links != nil && !slices.ContainsFunc(ms.Links, func(l [2]string) bool { return other(l) && in(ms.From, l[0]) && in(ms.To, l[1]) }):
		var sides []string
		if ms.From != nil {
			sides = append(sides, "from a port of from")
		}
		if ms.To != nil {
			sides = append(sides, "to a port of to")
		}
		return matchProblem{"link", fmt.Errorf("no link it names goes %s", strings.Join(sides, " and "))}, true
	case ms.Links == nil && ms.From != nil && ms.To != nil &&
		!slices.ContainsFunc(ms.From, func(f string) bool { return slices.ContainsFunc(ms.To, func(t string) bool { return f != t }) }):
		return matchProblem{"to", fmt.Errorf("from and to both name port %s alone, and no frame goes from a port to itself", ms.From[0])}, true
	}
	src, dst := ipVersions(ms.SrcIP), ipVersions(ms.DstIP)
	switch eth := etherVersions(ms.EtherTypes); {
	case !ips:
	case src&dst == 0:
		return matchProblem{"dst_ip", fmt.Errorf("holds only %s addresses and src_ip only %s ones: a packet's two addresses are of one IP version", dst, src)}, true
	case ms.SrcIP != nil && src&eth == 0:
		return matchProblem{"src_ip", fmt.Errorf("holds only %s addresses, and ethertype names no %s packet", src, src)}, true
	case ms.DstIP != nil && dst&eth == 0:
		return matchProblem{"dst_ip", fmt.Errorf("holds only %s addresses, and ethertype names no %s packet", dst, dst)}, true
	}
	if pr, ok := ms.impossibleTransport(); ok {
		return pr, true
	}
	if pr, ok := ms.impossibleDestination(); ok {
		return pr, true
	}
	return ms.impossibleWindow()
}

// impossibleTransport finds protocol, port and TCP flag criteria that no
// packet the other criteria allow can meet: ports are TCP's and UDP's,
// flags TCP's, and all of them need an IP packet.
func (ms *MatchSpec) impossibleTransport() (matchProblem, bool) {
	flags := ms.TCPFlags != nil && ms.TCPFlags.Mask != 0
	if ms.EtherTypes != nil && !emptied(ms.EtherTypes) && etherVersions(ms.EtherTypes) == 0 {
		for _, c := range []struct {
			field string
			set   bool
		}{{"protocol", ms.Protocols != nil}, {"src_port", ms.SrcPort != nil}, {"dst_port", ms.DstPort != nil}, {"tcp_flags", flags}} {
			if c.set {
				return matchProblem{c.field, errors.New("needs an IP packet, and ethertype names no IPv4 or IPv6 packet")}, true
			}
		}
	}
	if ms.Protocols == nil || emptied(ms.Protocols) {
		return matchProblem{}, false
	}
	tcp, udp := slices.Contains(ms.Protocols, packet.ProtoTCP), slices.Contains(ms.Protocols, packet.ProtoUDP)
	switch {
	case ms.SrcPort != nil && !tcp && !udp:
		return matchProblem{"src_port", errors.New("is a TCP or UDP port, and protocol names neither")}, true
	case ms.DstPort != nil && !tcp && !udp:
		return matchProblem{"dst_port", errors.New("is a TCP or UDP port, and protocol names neither")}, true
	case flags && !tcp:
		return matchProblem{"tcp_flags", errors.New("needs a TCP segment, and protocol names no TCP")}, true
	}
	return matchProblem{}, false
}

// impossibleDestination finds broadcast, multicast and dst_mac criteria
// that contradict each other: multicast excludes broadcast, and an exact
// dst_mac is broadcast, multicast or neither.
func (ms *MatchSpec) impossibleDestination() (matchProblem, bool) {
	b, m := ms.Broadcast, ms.Multicast
	if b != nil && *b && m != nil && *m {
		return matchProblem{"multicast", errors.New("true excludes the broadcast address, and broadcast: true asks for it (multicast: false or remove one)")}, true
	}
	if ms.DstMAC == nil {
		return matchProblem{}, false
	}
	bc := *ms.DstMAC == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mc := !bc && ms.DstMAC[0]&1 != 0
	is := func(yes bool) string {
		if yes {
			return "is"
		}
		return "is not"
	}
	switch {
	case b != nil && *b != bc:
		return matchProblem{"broadcast", fmt.Errorf("%t, and dst_mac %s %s the broadcast address", *b, net.HardwareAddr(ms.DstMAC[:]), is(bc))}, true
	case m != nil && *m != mc:
		return matchProblem{"multicast", fmt.Errorf("%t, and dst_mac %s %s a multicast address (group bit set, broadcast excluded)", *m, net.HardwareAddr(ms.DstMAC[:]), is(mc))}, true
	}
	return matchProblem{}, false
}

// impossibleWindow finds first, matches and every that leave no match
// number: n <= first, n in matches, n a multiple of every.
func (ms *MatchSpec) impossibleWindow() (matchProblem, bool) {
	lo, hi := int64(1), int64(-1) // hi < 0: open
	if r := ms.Matches; r != nil {
		if r.Max >= 0 && r.Max < r.Min {
			return matchProblem{}, false // refused where it is written
		}
		lo, hi = max(lo, r.Min), r.Max
	}
	if ms.First > 0 {
		if ms.First < lo {
			return matchProblem{"first", fmt.Errorf("%d ends the window before matches starts at %d: no match is in both", ms.First, lo)}, true
		}
		if hi < 0 || ms.First < hi {
			hi = ms.First
		}
	}
	if e := ms.Every; e > 1 && hi >= 0 {
		if k := (lo + e - 1) / e * e; k > hi {
			return matchProblem{"every", fmt.Errorf("%d: no multiple of %d is in the window of matches %d to %d", e, e, lo, hi)}, true
		}
	}
	return matchProblem{}, false
}

func emptied[T any](s []T) bool { return s != nil && len(s) == 0 }

// ipVersion is a set of IP versions, for the address criteria's checks.
type ipVersion uint8

const (
	ipv4 ipVersion = 1 << iota
	ipv6
	anyIP = ipv4 | ipv6
)

func (v ipVersion) String() string {
	switch v {
	case ipv4:
		return "IPv4"
	case ipv6:
		return "IPv6"
	case anyIP:
		return "IPv4 or IPv6"
	}
	return "no IP"
}

// ipVersions is the versions of the addresses prefixes match (nil: any).
func ipVersions(prefixes []netip.Prefix) ipVersion {
	if prefixes == nil {
		return anyIP
	}
	var v ipVersion
	for _, p := range prefixes {
		if p.Addr().Is4() {
			v |= ipv4
		} else {
			v |= ipv6
		}
	}
	return v
}

// etherVersions is the IP versions of the EtherTypes types (nil: any).
func etherVersions(types []uint16) ipVersion {
	if types == nil {
		return anyIP
	}
	var v ipVersion
	for _, t := range types {
		switch t {
		case packet.EtherTypeIPv4:
			v |= ipv4
		case packet.EtherTypeIPv6:
			v |= ipv6
		}
	}
	return v
}

// clear sets the criterion of the policy file's key field aside.
func (ms *MatchSpec) clear(field string) {
	switch field {
	case "link":
		ms.Links = nil
	case "to":
		ms.To = nil
	case "qinq":
		ms.QinQ = nil
	case "src_ip":
		ms.SrcIP = nil
	case "dst_ip":
		ms.DstIP = nil
	case "protocol":
		ms.Protocols = nil
	case "src_port":
		ms.SrcPort = nil
	case "dst_port":
		ms.DstPort = nil
	case "tcp_flags":
		ms.TCPFlags = nil
	case "broadcast":
		ms.Broadcast = nil
	case "multicast":
		ms.Multicast = nil
	case "first":
		ms.First = 0
	case "every":
		ms.Every = 0
	default:
		panic("filter: clear " + field)
	}
}

// compile builds the runtime matcher and window.
func (ms *MatchSpec) compile() (matcher, window) {
	m := matcher{maxLen: -1, to0: -1}
	w := window{hi: -1, first: ms.First, every: ms.Every}
	set := func(ports []string) map[string]bool {
		if ports == nil {
			return nil
		}
		s := make(map[string]bool, len(ports))
		for _, n := range ports {
			s[n] = true
		}
		return s
	}
	m.from, m.to = set(ms.From), set(ms.To)
	if ms.Links != nil {
		m.addLinks(ms.Links)
	}
	m.etherType, m.srcIP, m.dstIP, m.proto = ms.EtherTypes, ms.SrcIP, ms.DstIP, ms.Protocols
	m.srcMAC, m.dstMAC = ms.SrcMAC, ms.DstMAC
	if ms.Broadcast != nil {
		m.broadcast = triOf(*ms.Broadcast)
	}
	if ms.Multicast != nil {
		m.multicast = triOf(*ms.Multicast)
	}
	if ms.VLAN != nil {
		m.vlan = triOf(*ms.VLAN)
	}
	if ms.QinQ != nil {
		m.qinq = triOf(*ms.QinQ)
	}
	if r := ms.SrcPort; r != nil {
		m.srcPort = portRange{set: true, lo: r.Lo, hi: r.Hi}
	}
	if r := ms.DstPort; r != nil {
		m.dstPort = portRange{set: true, lo: r.Lo, hi: r.Hi}
	}
	if f := ms.TCPFlags; f != nil {
		m.tcpMask, m.tcpValue = f.Mask, f.Value
	}
	m.payload = ms.Payload
	if l := ms.Length; l != nil {
		m.minLen, m.maxLen = int(l.Min), int(l.Max)
	}
	if d := ms.During; d != nil {
		m.during, m.from0, m.to0 = true, d.Min, d.Max
	}
	if r := ms.Matches; r != nil {
		w.lo, w.hi = r.Min, r.Max
	}
	m.needParse = m.etherType != nil || m.vlan != triAny || m.qinq != triAny || m.srcIP != nil || m.dstIP != nil || m.proto != nil ||
		m.srcPort.set || m.dstPort.set || m.tcpMask != 0 || m.payload != nil
	return m, w
}

func triOf(b bool) tri {
	if b {
		return triYes
	}
	return triNo
}
