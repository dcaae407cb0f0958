package report

import (
	"fmt"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// Protocol classes, the page's protocol filter.
const (
	ProtoARP   = "ARP"
	ProtoNXSB  = "NXSB"  // discovery announces, UDP 37020
	ProtoNexus = "nexus" // the session: handshake messages and records
	ProtoTCP   = "TCP"
	ProtoUDP   = "UDP"
	ProtoICMP  = "ICMP"
	ProtoIPv6  = "IPv6"
	ProtoOther = "other"
)

// Label is what an arrow says: the protocol event in a few words, its
// protocol class, and whether a run of alike frames may share one arrow.
type Label struct {
	Text  string
	Proto string
	// Groupable: a repeated frame of this kind says nothing new (an
	// announce, a pure ACK, a ping); handshakes, SYNs, resets and
	// retransmissions are never grouped.
	Groupable bool
}

// The nexus session's well-known port: node-b listens there, and node-a
// dials it without an announce after a second (nexus-wire.md).
const nexusSessionPort = 34568

const (
	announcePort = 37020
	// maxFlows bounds the TCP connections followed for handshake labels;
	// later connections are labelled as plain TCP.
	maxFlows = 4096
	// maxSessionPorts bounds the announced session ports remembered.
	maxSessionPorts = 64
)

// labeller names frames. It follows TCP connections to the announced
// session ports far enough to tell the handshake messages and the records
// apart by their stream offsets (the nexus-v1 handshake is unframed:
// 32/96/64 bytes; noise-xk frames 48/48/64 with a 4-byte length).
type labeller struct {
	msgLen       [3]int // msg1, msg2, msg3 on the wire
	sessionPorts map[uint16]bool
	flows        map[[2]netip.AddrPort]*tcpFlow

	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	arp     layers.ARP
	ip4     layers.IPv4
	ip6     layers.IPv6
	udp     layers.UDP
	tcp     layers.TCP
	icmp    layers.ICMPv4
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

type tcpFlow struct {
	client  netip.AddrPort // the SYN's sender; the first sender without one
	session bool
	base    [2]uint32 // sequence number of stream offset 0, client→server and back
	based   [2]bool
	high    [2]uint32 // the highest stream end seen, as a sequence number
	synSeen [2]bool
}

func newLabeller(noiseXK bool) *labeller {
	l := &labeller{
		msgLen:       [3]int{conformance.NexusMsg1Len, conformance.NexusMsg2Len, conformance.NexusMsg3Len},
		sessionPorts: map[uint16]bool{nexusSessionPort: true},
		flows:        map[[2]netip.AddrPort]*tcpFlow{},
	}
	if noiseXK {
		p := conformance.ProfileStd
		l.msgLen = [3]int{4 + p.MessageLen(conformance.Msg1), 4 + p.MessageLen(conformance.Msg2), 4 + p.MessageLen(conformance.Msg3)}
	}
	l.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&l.eth, &l.dot1q, &l.arp, &l.ip4, &l.ip6, &l.udp, &l.tcp, &l.icmp)
	l.parser.IgnoreUnsupported = true
	return l
}

// label names one frame. Frames must come in capture order: the handshake
// labels depend on what came before.
func (l *labeller) label(frame []byte) (lb Label) {
	if len(frame) < 14 {
		return Label{Text: "runt", Proto: ProtoOther}
	}
	defer func() {
		// gopacket's decoders are not ours to vouch for: a frame that
		// panics one is shown as malformed rather than ending the report.
		if recover() != nil {
			lb = Label{Text: "malformed", Proto: ProtoOther}
		}
	}()
	l.decoded = l.decoded[:0]
	err := l.parser.DecodeLayers(frame, &l.decoded)
	has := func(t gopacket.LayerType) bool {
		for _, d := range l.decoded {
			if d == t {
				return true
			}
		}
		return false
	}
	switch {
	case has(layers.LayerTypeARP):
		switch l.arp.Operation {
		case layers.ARPRequest:
			return Label{Text: "ARP request", Proto: ProtoARP, Groupable: true}
		case layers.ARPReply:
			return Label{Text: "ARP reply", Proto: ProtoARP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ARP op %d", l.arp.Operation), Proto: ProtoARP}
	case has(layers.LayerTypeTCP) && has(layers.LayerTypeIPv4):
		return l.tcpLabel()
	case has(layers.LayerTypeUDP) && has(layers.LayerTypeIPv4):
		return l.udpLabel()
	case has(layers.LayerTypeICMPv4):
		switch l.icmp.TypeCode.Type() {
		case layers.ICMPv4TypeEchoRequest:
			return Label{Text: "ICMP echo request", Proto: ProtoICMP, Groupable: true}
		case layers.ICMPv4TypeEchoReply:
			return Label{Text: "ICMP echo reply", Proto: ProtoICMP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ICMP type %d", l.icmp.TypeCode.Type()), Proto: ProtoICMP}
	case has(layers.LayerTypeIPv6):
		return Label{Text: "IPv6 " + l.ip6.NextHeader.String(), Proto: ProtoIPv6, Groupable: true}
	case has(layers.LayerTypeIPv4):
		if l.ip4.Flags&layers.IPv4MoreFragments != 0 || l.ip4.FragOffset != 0 {
			return Label{Text: "IPv4 fragment", Proto: ProtoOther, Groupable: true}
		}
		return Label{Text: "IPv4 " + l.ip4.Protocol.String(), Proto: ProtoOther, Groupable: true}
	}
	if err != nil && len(l.decoded) == 0 {
		return Label{Text: "malformed", Proto: ProtoOther}
	}
	et := l.eth.EthernetType
	if has(layers.LayerTypeDot1Q) {
		et = l.dot1q.Type
	}
	return Label{Text: fmt.Sprintf("EtherType 0x%04x", uint16(et)), Proto: ProtoOther, Groupable: true}
}

func (l *labeller) udpLabel() Label {
	dst, src := uint16(l.udp.DstPort), uint16(l.udp.SrcPort)
	switch {
	case dst == announcePort:
		a, err := conformance.ParseAnnounce(l.udp.Payload)
		if err != nil {
			return Label{Text: "UDP 37020 (not an announce)", Proto: ProtoNXSB}
		}
		if len(l.sessionPorts) < maxSessionPorts && a.Port != 0 {
			l.sessionPorts[a.Port] = true
		}
		return Label{Text: "NXSB announce", Proto: ProtoNXSB, Groupable: true}
	case dst == 67 || dst == 68:
		return Label{Text: "DHCP", Proto: ProtoUDP}
	case dst == 53 || src == 53:
		return Label{Text: "DNS", Proto: ProtoUDP, Groupable: true}
	}
	return Label{Text: fmt.Sprintf("UDP %d", dst), Proto: ProtoUDP, Groupable: true}
}

func (l *labeller) tcpLabel() Label {
	t := &l.tcp
	src, ok1 := netip.AddrFromSlice(l.ip4.SrcIP)
	dst, ok2 := netip.AddrFromSlice(l.ip4.DstIP)
	if !ok1 || !ok2 {
		return Label{Text: "TCP", Proto: ProtoTCP}
	}
	from := netip.AddrPortFrom(src, uint16(t.SrcPort))
	to := netip.AddrPortFrom(dst, uint16(t.DstPort))
	key := [2]netip.AddrPort{from, to}
	if to.Compare(from) < 0 {
		key = [2]netip.AddrPort{to, from}
	}
	f := l.flows[key]
	if f == nil && len(l.flows) < maxFlows {
		f = &tcpFlow{client: from}
		if t.SYN && t.ACK { // the answer came first: its sender serves
			f.client = to
		}
		f.session = l.sessionPorts[uint16(f.serverPort(key))]
		l.flows[key] = f
	}
	retx := false
	dir := 0
	if f != nil && from != f.client {
		dir = 1
	}
	if f != nil && t.SYN {
		if f.synSeen[dir] && f.base[dir] == t.Seq+1 {
			retx = true
		}
		f.synSeen[dir], f.base[dir], f.based[dir], f.high[dir] = true, t.Seq+1, true, t.Seq+1
	}
	name := "TCP ACK"
	switch {
	case t.SYN && t.ACK:
		name = "TCP SYN-ACK"
	case t.SYN:
		name = "TCP SYN"
	case t.RST:
		name = "TCP RST"
	case t.FIN:
		name = "TCP FIN"
	}
	proto := ProtoTCP
	if f != nil && f.session {
		proto = ProtoNexus
	}
	n := len(t.Payload)
	if n == 0 || t.SYN {
		if retx {
			name += " (retransmission)"
		}
		return Label{Text: name, Proto: proto, Groupable: name == "TCP ACK"}
	}
	text := "TCP data"
	if name == "TCP FIN" || name == "TCP RST" {
		text = name + " + data"
	}
	if f != nil {
		if !f.based[dir] {
			f.base[dir], f.based[dir], f.high[dir] = t.Seq, true, t.Seq
		}
		end := t.Seq + uint32(n)
		if int32(end-f.high[dir]) <= 0 {
			retx = true
		} else {
			f.high[dir] = end
		}
		if f.session {
			text = l.sessionText(dir == 0, int64(int32(t.Seq-f.base[dir])))
		}
	}
	if retx {
		return Label{Text: text + " (retransmission)", Proto: proto}
	}
	return Label{Text: text, Proto: proto, Groupable: text == "TCP data"}
}

// serverPort is the port of the flow's end that is not the client.
func (f *tcpFlow) serverPort(key [2]netip.AddrPort) uint16 {
	if key[0] == f.client {
		return key[1].Port()
	}
	return key[0].Port()
}

// sessionText names the bytes at stream offset off of a nexus session:
// node-a (the client) sends msg1 then msg3, node-b msg2; records follow.
func (l *labeller) sessionText(fromClient bool, off int64) string {
	m1, m2, m3 := int64(l.msgLen[0]), int64(l.msgLen[1]), int64(l.msgLen[2])
	switch {
	case off < 0:
		return "nexus data"
	case fromClient && off < m1:
		return "handshake msg1"
	case fromClient && off < m1+m3:
		return "handshake msg3"
	case !fromClient && off < m2:
		return "handshake msg2"
	}
	return "record"
}
