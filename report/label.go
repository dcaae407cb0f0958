package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"

	"github.com/google/gopacket/layers"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"l2hub/conformance"
	"l2hub/packet"
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
	// announce, a pure ACK, a ping, a session record); handshakes, SYNs,
	// resets and retransmissions are never grouped.
	Groupable bool
	// Uncited: a frame of this kind shares an arrow only when no finding
	// at all cites it (a session record: the checker's passes on it
	// name that one record).
	Uncited bool
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

// labeller names frames, whose headers it reads with package packet. It
// follows TCP connections to the announced session ports far enough to
// tell the handshake messages and the records apart by their stream
// offsets (the nexus-v1 handshake is unframed: 32/96/64 bytes; noise-xk
// frames 48/48/64 with a 4-byte length).
type labeller struct {
	msgLen       [3]int // msg1, msg2, msg3 on the wire
	sessionPorts map[uint16]bool
	flows        map[[2]netip.AddrPort]*tcpFlow
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
	return l
}

// label names one frame. Frames must come in capture order: the handshake
// labels depend on what came before.
func (l *labeller) label(frame []byte) Label {
	if len(frame) < packet.EthernetLen {
		return Label{Text: "runt", Proto: ProtoOther}
	}
	var h packet.Headers
	packet.Parse(frame, &h)
	switch h.IPVersion {
	case 4:
		return l.ipv4Label(frame, &h)
	case 6:
		return Label{Text: "IPv6 " + ipv6Content(frame, &h), Proto: ProtoIPv6, Groupable: true}
	}
	if a := h.ARP(frame); a != nil {
		switch a.Op() {
		case header.ARPRequest:
			return Label{Text: "ARP request", Proto: ProtoARP, Groupable: true}
		case header.ARPReply:
			return Label{Text: "ARP reply", Proto: ProtoARP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ARP op %d", a.Op()), Proto: ProtoARP}
	}
	if h.EtherType < 0x0600 { // an 802.3 length, not a type: LLC follows
		return Label{Text: "802.3 LLC", Proto: ProtoOther, Groupable: true}
	}
	return Label{Text: fmt.Sprintf("EtherType 0x%04x", h.EtherType), Proto: ProtoOther, Groupable: true}
}

// ipv4Label names an IPv4 packet: its TCP segment, UDP datagram or ICMP
// message when the frame holds the header, else its protocol.
func (l *labeller) ipv4Label(frame []byte, h *packet.Headers) Label {
	switch {
	case h.Fragment:
		return Label{Text: "IPv4 fragment", Proto: ProtoOther, Groupable: true}
	case h.HasPorts && h.TCP:
		return l.tcpLabel(h)
	case h.HasPorts && h.UDPLenOK():
		// A snaplen that cut the datagram short left the OS's copy whole.
		return l.udpLabel(h.SrcPort, h.DstPort, h.UDPPayload(frame), int(h.UDPLen)-8)
	}
	if m := h.ICMPv4(frame); m != nil {
		switch m.Type() {
		case header.ICMPv4Echo:
			return Label{Text: "ICMP echo request", Proto: ProtoICMP, Groupable: true}
		case header.ICMPv4EchoReply:
			return Label{Text: "ICMP echo reply", Proto: ProtoICMP, Groupable: true}
		}
		return Label{Text: fmt.Sprintf("ICMP type %d", m.Type()), Proto: ProtoICMP}
	}
	return Label{Text: "IPv4 " + protoName(h.Proto), Proto: ProtoOther, Groupable: true}
}

// ipv6Content names what an IPv6 packet carries: "fragment", or the
// protocol after the extension headers, or, when the frame cuts those
// short, the first of them.
func ipv6Content(frame []byte, h *packet.Headers) string {
	switch {
	case h.Fragment:
		return "fragment"
	case h.L4 > h.L3: // Parse walked the extension headers to the protocol
		return protoName(h.Proto)
	}
	return protoName(header.IPv6(frame[h.L3:]).NextHeader())
}

// protoName is gopacket's name for IP protocol p ("UDP", "ICMPv6",
// "IPv6HopByHop"), as the labels have always spelt them; only the table of
// names, not its decoders.
func protoName(p uint8) string { return layers.IPProtocol(p).String() }

// udpLabel names a UDP datagram from its ports and the payload the frame
// holds, of the size bytes the datagram has (more when the capture's
// snaplen cut it).
func (l *labeller) udpLabel(src, dst uint16, payload []byte, size int) Label {
	switch {
	case dst == announcePort:
		a, err := conformance.ParseAnnounce(payload)
		if err != nil && len(payload) < size && errors.Is(err, conformance.ErrTruncated) && !shortOnTheWire(payload, size) {
			// The OS received the bytes the capture lost: a cut announce,
			// not judged (as the checker's NET-003 and the dissector do not
			// judge it).
			if port, ok := announcedPort(payload); ok {
				l.learn(port)
			}
			return Label{Text: "NXSB announce (cut)", Proto: ProtoNXSB, Groupable: true}
		}
		if err != nil {
			return Label{Text: "UDP 37020 (not an announce)", Proto: ProtoNXSB}
		}
		l.learn(a.Port)
		return Label{Text: "NXSB announce", Proto: ProtoNXSB, Groupable: true}
	case dst == 67 || dst == 68:
		return Label{Text: "DHCP", Proto: ProtoUDP}
	case dst == 53 || src == 53:
		return Label{Text: "DNS", Proto: ProtoUDP, Groupable: true}
	}
	return Label{Text: fmt.Sprintf("UDP %d", dst), Proto: ProtoUDP, Groupable: true}
}

// shortOnTheWire says whether an announce the capture cut to kept is
// Truncated as the OS receives it too, whatever the bytes lost: the
// lengths kept already need more than its size bytes. Zeros in place of
// the lost bytes need the fewest (no service), or stop at a length of 0,
// which the lost bytes may not hold, and so do not judge.
func shortOnTheWire(kept []byte, size int) bool {
	whole := make([]byte, size)
	copy(whole, kept)
	_, err := conformance.ParseReceivedAnnounce(whole)
	return errors.Is(err, conformance.ErrTruncated)
}

// learn remembers an announced session port, up to maxSessionPorts.
func (l *labeller) learn(port uint16) {
	if len(l.sessionPorts) < maxSessionPorts && port != 0 {
		l.sessionPorts[port] = true
	}
}

// announcedPort reads the session port from the start of an announce the
// capture cut short: the fields before it as the OS checks them (magic,
// version, a device id of 1..64 bytes in UTF-8), the port after them.
func announcedPort(p []byte) (uint16, bool) {
	if len(p) < 6 || [4]byte(p) != conformance.AnnounceMagic || p[4] != 1 {
		return 0, false
	}
	d := int(p[5])
	if d < 1 || d > 64 || len(p) < 8+d || !utf8.Valid(p[6:6+d]) {
		return 0, false
	}
	return binary.BigEndian.Uint16(p[6+d:]), true
}

func (l *labeller) tcpLabel(h *packet.Headers) Label {
	syn, ack := h.TCPFlags&packet.TCPSyn != 0, h.TCPFlags&packet.TCPAck != 0
	from := netip.AddrPortFrom(h.Src, h.SrcPort)
	to := netip.AddrPortFrom(h.Dst, h.DstPort)
	key := [2]netip.AddrPort{from, to}
	if to.Compare(from) < 0 {
		key = [2]netip.AddrPort{to, from}
	}
	f := l.flows[key]
	if f == nil && len(l.flows) < maxFlows {
		f = &tcpFlow{client: from}
		if syn && ack { // the answer came first: its sender serves
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
	if f != nil && syn {
		if f.synSeen[dir] && f.base[dir] == h.Seq+1 {
			retx = true
		}
		f.synSeen[dir], f.base[dir], f.based[dir], f.high[dir] = true, h.Seq+1, true, h.Seq+1
	}
	name := "TCP ACK"
	switch {
	case syn && ack:
		name = "TCP SYN-ACK"
	case syn:
		name = "TCP SYN"
	case h.TCPFlags&packet.TCPRst != 0:
		name = "TCP RST"
	case h.TCPFlags&packet.TCPFin != 0:
		name = "TCP FIN"
	}
	proto := ProtoTCP
	if f != nil && f.session {
		proto = ProtoNexus
	}
	n := h.End - h.Payload // the segment's data, as far as the frame holds it
	if n == 0 || syn {
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
			f.base[dir], f.based[dir], f.high[dir] = h.Seq, true, h.Seq
		}
		end := h.Seq + uint32(n)
		if int32(end-f.high[dir]) <= 0 {
			retx = true
		} else {
			f.high[dir] = end
		}
		if f.session {
			text = l.sessionText(dir == 0, int64(int32(h.Seq-f.base[dir])))
		}
	}
	if retx {
		return Label{Text: text + " (retransmission)", Proto: proto}
	}
	return Label{Text: text, Proto: proto, Groupable: text == "TCP data" || text == "record", Uncited: text == "record"}
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
