package filter

import (
	"bytes"
	"net/netip"
	"time"
)

// tri is an optional boolean criterion.
type tri uint8

const (
	triAny tri = iota
	triYes
	triNo
)

func (t tri) ok(v bool) bool { return t == triAny || (t == triYes) == v }

// portRange is an inclusive range of TCP/UDP ports.
type portRange struct {
	set    bool
	lo, hi uint16
}

func (r portRange) ok(v uint16) bool { return !r.set || (v >= r.lo && v <= r.hi) }

// matcher holds a rule's criteria, all ANDed; within one list (EtherTypes,
// addresses, protocols) any entry may match. The port criteria depend only
// on the link, so they are evaluated once per link (linkOK); the rest per
// frame (frameOK).
type matcher struct {
	from, to  map[string]bool    // ingress / egress port names; nil = any
	links     map[[2]string]bool // ordered (from, to) pairs; nil = any
	etherType []uint16           // any of, the type after the VLAN tags
	vlan      tri                // an 802.1Q or 802.1ad tag
	qinq      tri                // two tags
	srcMAC    *[6]byte           // exact
	dstMAC    *[6]byte           // exact
	broadcast tri                // destination ff:ff:ff:ff:ff:ff
	multicast tri                // destination group bit set, broadcast excluded
	srcIP     []netip.Prefix     // any of
	dstIP     []netip.Prefix     // any of
	proto     []uint8            // any of
	srcPort   portRange          //
	dstPort   portRange          //
	tcpMask   uint8              // flags that must have the value in tcpValue
	tcpValue  uint8              //
	payload   []byte             // prefix of the L4 payload
	minLen    int                // frame length bounds, hi < 0 = none
	maxLen    int                //
	during    bool               // time window set
	from0     time.Duration      // time window [from0, to0); to0 < 0 = open
	to0       time.Duration      //
	needParse bool               // any criterion needs headers
}

func (m *matcher) linkOK(from, to string) bool {
	if m.from != nil && !m.from[from] {
		return false
	}
	if m.to != nil && !m.to[to] {
		return false
	}
	if m.links != nil && !m.links[[2]string{from, to}] {
		return false
	}
	return true
}

func (m *matcher) frameOK(now time.Duration, f []byte, pk *frameHeaders) bool {
	if m.during && (now < m.from0 || (m.to0 >= 0 && now >= m.to0)) {
		return false
	}
	if len(f) < m.minLen || (m.maxLen >= 0 && len(f) > m.maxLen) {
		return false
	}
	if m.dstMAC != nil && (len(f) < 6 || [6]byte(f[0:6]) != *m.dstMAC) {
		return false
	}
	if m.srcMAC != nil && (len(f) < 12 || [6]byte(f[6:12]) != *m.srcMAC) {
		return false
	}
	if m.broadcast != triAny || m.multicast != triAny {
		bc, mc := false, false
		if len(f) >= 6 {
			bc = [6]byte(f[0:6]) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			mc = !bc && f[0]&1 != 0
		}
		if !m.broadcast.ok(bc) || !m.multicast.ok(mc) {
			return false
		}
	}
	if !m.needParse {
		return true
	}
	pk.ensure(f)
	if m.etherType != nil && !containsU16(m.etherType, pk.EtherType) {
		return false
	}
	if !m.vlan.ok(pk.VLANTags > 0) || !m.qinq.ok(pk.VLANTags >= 2) {
		return false
	}
	if m.srcIP != nil && (pk.IPVersion == 0 || !containsAddr(m.srcIP, pk.Src)) {
		return false
	}
	if m.dstIP != nil && (pk.IPVersion == 0 || !containsAddr(m.dstIP, pk.Dst)) {
		return false
	}
	if m.proto != nil && (pk.IPVersion == 0 || !containsU8(m.proto, pk.Proto)) {
		return false
	}
	if (m.srcPort.set || m.dstPort.set) && (!pk.HasPorts || !m.srcPort.ok(pk.SrcPort) || !m.dstPort.ok(pk.DstPort)) {
		return false
	}
	if m.tcpMask != 0 && (!pk.TCP || pk.TCPFlags&m.tcpMask != m.tcpValue) {
		return false
	}
	if m.payload != nil {
		if pk.Payload > pk.End || !bytes.HasPrefix(f[pk.Payload:pk.End], m.payload) {
			return false
		}
	}
	return true
}

func containsU16(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsU8(s []uint8, v uint8) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsAddr(s []netip.Prefix, a netip.Addr) bool {
	for _, p := range s {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// window selects among the frames that met every other criterion, counted
// per (rule, link) from 1: the first N, the N-th to M-th, every N-th. D1
// needs the count per link: a flood on another link must not use up a
// window meant for a->b.
type window struct {
	first int64 // n <= first; 0 = unset
	lo    int64 // n >= lo
	hi    int64 // n <= hi; < 0 = open
	every int64 // n % every == 0; 0 = unset
}

func (w *window) ok(n int64) bool {
	if w.first > 0 && n > w.first {
		return false
	}
	if n < w.lo || (w.hi >= 0 && n > w.hi) {
		return false
	}
	return w.every == 0 || n%w.every == 0
}
