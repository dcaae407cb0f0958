package wireshark_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// capture builds a classic pcap of Ethernet frames between node-a and
// node-b, 1 ms apart, with correct checksums.
type capture struct {
	t      *testing.T
	frames [][]byte
	ipID   uint16
	hidden [2]bool // a side's TCP segments are sent but left out of the capture
	// kept, when set for a frame's index, is how many of its bytes the
	// capture keeps, as a snaplen cuts it (its original length stays).
	kept map[int]int
}

var (
	macA  = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x0a}
	macB  = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x0b}
	ipA   = net.IPv4(10, 42, 0, 10).To4()
	ipB   = net.IPv4(10, 42, 0, 11).To4()
	macMC = net.HardwareAddr{0x01, 0x00, 0x5e, 0x2a, 0x00, 0x01}
	ipMC  = net.IPv4(239, 42, 0, 1).To4()
)

func (c *capture) serialize(ls ...gopacket.SerializableLayer) {
	c.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		c.t.Fatalf("serialize: %v", err)
	}
	c.frames = append(c.frames, append([]byte(nil), buf.Bytes()...))
}

func (c *capture) ip(src, dst net.IP, proto layers.IPProtocol) *layers.IPv4 {
	c.ipID++
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: c.ipID, Flags: layers.IPv4DontFragment,
		Protocol: proto, SrcIP: src, DstIP: dst}
}

// udp sends one datagram from node-a to the discovery group.
func (c *capture) udp(sport, dport uint16, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macMC, EthernetType: layers.EthernetTypeIPv4}
	ip := c.ip(ipA, ipMC, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := u.SetNetworkLayerForChecksum(ip); err != nil {
		c.t.Fatal(err)
	}
	c.serialize(eth, ip, u, gopacket.Payload(payload))
}

// snap cuts the last frame in the capture after keep bytes of its UDP
// payload, as a snaplen would.
func (c *capture) snap(keep int) {
	if c.kept == nil {
		c.kept = map[int]int{}
	}
	c.kept[len(c.frames)-1] = 14 + 20 + 8 + keep // Ethernet, IPv4 without options, UDP
}

func (c *capture) write() string {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "nexus.pcap")
	f, err := os.Create(path)
	if err != nil {
		c.t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		c.t.Fatal(err)
	}
	ts := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for i, fr := range c.frames {
		ts = ts.Add(time.Millisecond)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(fr), Length: len(fr)}
		if k, ok := c.kept[i]; ok && k < len(fr) {
			fr, ci.CaptureLength = fr[:k], k
		}
		if err := w.WritePacket(ci, fr); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// session is one TCP connection from node-a (side 0) to node-b's port
// (side 1). Each side's bytes go out in segments whose sizes cycle through
// cuts, so messages and records split and merge at arbitrary points.
type session struct {
	c     *capture
	ports [2]uint16
	isn   [2]uint32
	sent  [2]int // bytes each side has sent
	queue [2][]byte
	cuts  []int
	cut   int
}

func (c *capture) session(cport, sport uint16, cuts ...int) *session {
	return c.dial(cport, sport, nil, cuts...)
}

// dial opens a session whose SYN carries data, as TCP Fast Open's does.
func (c *capture) dial(cport, sport uint16, data []byte, cuts ...int) *session {
	s := &session{c: c, ports: [2]uint16{cport, sport}, isn: [2]uint32{0x1000, 0xf0000000}, cuts: cuts}
	s.segment(0, layers.TCP{SYN: true}, data)
	s.segment(1, layers.TCP{SYN: true, ACK: true}, nil)
	s.segment(0, layers.TCP{ACK: true}, nil)
	return s
}

func (s *session) segment(side int, flags layers.TCP, payload []byte) {
	src, dst := [2]net.HardwareAddr{macA, macB}, [2]net.IP{ipA, ipB}
	eth := &layers.Ethernet{SrcMAC: src[side], DstMAC: src[1-side], EthernetType: layers.EthernetTypeIPv4}
	ip := s.c.ip(dst[side], dst[1-side], layers.IPProtocolTCP)
	t := flags
	t.SrcPort, t.DstPort = layers.TCPPort(s.ports[side]), layers.TCPPort(s.ports[1-side])
	t.Seq, t.Window, t.DataOffset = s.isn[side]+uint32(s.sent[side]), 4096, 5
	if t.SYN {
		s.sent[side]++ // the SYN takes one sequence number
	}
	if t.ACK {
		t.Ack = s.isn[1-side] + uint32(s.sent[1-side])
	}
	if err := t.SetNetworkLayerForChecksum(ip); err != nil {
		s.c.t.Fatal(err)
	}
	if !s.c.hidden[side] {
		s.c.serialize(eth, ip, &t, gopacket.Payload(payload))
	}
	s.sent[side] += len(payload)
}

// write queues bytes on side's stream; flush sends them.
func (s *session) write(side int, b []byte) *session {
	s.queue[side] = append(s.queue[side], b...)
	return s
}

// flush sends side's queued bytes in segments sized by the cut cycle.
func (s *session) flush(side int) *session {
	for q := s.queue[side]; len(q) > 0; {
		n := len(q)
		if len(s.cuts) > 0 {
			n = min(n, s.cuts[s.cut%len(s.cuts)])
			s.cut++
		}
		s.segment(side, layers.TCP{ACK: true, PSH: true}, q[:n])
		q = q[n:]
	}
	s.queue[side] = s.queue[side][:0]
	return s
}

// send writes and flushes one message.
func (s *session) send(side int, b []byte) *session { return s.write(side, b).flush(side) }

// sendCorrupted sends b as one segment whose payload byte at is flipped
// after the checksum was computed, as the hub's corrupt policy damages a
// frame, and then the segment again intact, as TCP retransmits it.
func (s *session) sendCorrupted(side int, b []byte, at int) *session {
	s.segment(side, layers.TCP{ACK: true, PSH: true}, b)
	fr := s.c.frames[len(s.c.frames)-1]
	fr[len(fr)-len(b)+at] ^= 0x01
	s.sent[side] -= len(b)
	s.segment(side, layers.TCP{ACK: true, PSH: true}, b)
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
