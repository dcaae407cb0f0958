package checker

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"l2hub/conformance"
	"l2hub/hub"
)

// host is one node on the test segment.
type host struct {
	mac net.HardwareAddr
	ip  netip.Addr
}

var (
	hostA   = host{mustMAC("52:54:00:12:34:0a"), netip.MustParseAddr("10.42.0.10")}
	hostB   = host{mustMAC("52:54:00:12:34:0b"), netip.MustParseAddr("10.42.0.11")}
	hostC   = host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")} // a third VM
	groupMC = mustMAC("01:00:5e:2a:00:01")
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// builder makes a capture: Ethernet frames with correct checksums, numbered
// from 1, 1 ms apart unless told otherwise.
type builder struct {
	t      testing.TB
	frames []Frame
	now    time.Time
	step   time.Duration
	ipID   uint16
}

func newBuilder(t testing.TB) *builder {
	return &builder{t: t, now: hub.DefaultEpoch, step: time.Millisecond}
}

// frameOpt changes one frame as it is added.
type frameOpt func(*Frame)

func dropped(f *Frame) { f.Dropped, f.Why = true, "a->b: rule loss: drop" }

// injected marks a frame the hub injected, not one a VM sent.
func injected(f *Frame) { f.Injected = true }

func (b *builder) add(data []byte, opts ...frameOpt) int {
	b.now = b.now.Add(b.step)
	f := Frame{Number: len(b.frames) + 1, Time: b.now, Data: data}
	for _, o := range opts {
		o(&f)
	}
	b.frames = append(b.frames, f)
	return f.Number
}

func (b *builder) wait(d time.Duration) { b.now = b.now.Add(d) }

func (b *builder) serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		b.t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func (b *builder) ip(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	b.ipID++
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: b.ipID, Flags: layers.IPv4DontFragment, Protocol: proto,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

// udp builds a UDP datagram from src's MAC (srcIP may lie).
func (b *builder) udp(src host, srcIP netip.Addr, dstMAC net.HardwareAddr, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: src.mac, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := b.ip(srcIP, dst, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(ip)
	return b.serialize(eth, ip, u, gopacket.Payload(payload))
}

// fragments sends payload by UDP from src to dst as two IPv4 fragments:
// the UDP header and the payload's first 8 bytes, then the rest.
func (b *builder) fragments(src, dst host, payload []byte) {
	whole := b.udp(src, src.ip, dst.mac, dst.ip, 37020, 37020, payload)
	udp := whole[14+20:] // UDP header and payload
	eth := &layers.Ethernet{SrcMAC: src.mac, DstMAC: dst.mac, EthernetType: layers.EthernetTypeIPv4}
	first := b.ip(src.ip, dst.ip, layers.IPProtocolUDP)
	first.Flags = layers.IPv4MoreFragments
	b.add(b.serialize(eth, first, gopacket.Payload(udp[:16])))
	second := b.ip(src.ip, dst.ip, layers.IPProtocolUDP)
	second.Id = first.Id
	second.Flags, second.FragOffset = 0, 2 // in 8-byte units
	b.add(b.serialize(eth, second, gopacket.Payload(udp[16:])))
}

// arp builds an ARP packet for IPv4 from src's MAC: a request (op 1,
// broadcast) for target's address, or a reply (op 2) to target.
func (b *builder) arp(op uint16, src host, srcIP netip.Addr, target host) []byte {
	dst, tha := target.mac, target.mac
	if op == layers.ARPRequest {
		dst, tha = mustMAC("ff:ff:ff:ff:ff:ff"), make(net.HardwareAddr, 6)
	}
	return b.serialize(&layers.Ethernet{SrcMAC: src.mac, DstMAC: dst, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
			SourceHwAddress: src.mac, SourceProtAddress: srcIP.AsSlice(), DstHwAddress: tha, DstProtAddress: target.ip.AsSlice()})
}

// announce sends one round: to the group, then by unicast to the peer.
func (b *builder) announce(from host, payload []byte, opts ...frameOpt) (mcast, ucast int) {
	peer := hostB
	if from.ip == hostB.ip {
		peer = hostA
	}
	mcast = b.add(b.udp(from, from.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, payload), opts...)
	ucast = b.add(b.udp(from, from.ip, peer.mac, peer.ip, 37020, 37020, payload), opts...)
	return mcast, ucast
}

// announceOf is the announce the OS's role r sends.
func announceOf(t testing.TB, r conformance.Role) []byte {
	return marshalAnnounce(t, r.Announce())
}

func marshalAnnounce(t testing.TB, a conformance.Announce) []byte {
	p, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flow is one TCP connection; side 0 is the client.
type flow struct {
	b     *builder
	hosts [2]host
	ports [2]uint16
	isn   [2]uint32
	sent  [2][]byte // every byte each side has written
	acked [2]int    // how much of the other side's stream each side acknowledges
}

func (b *builder) flow(client, server host, cport, sport uint16) *flow {
	return &flow{b: b, hosts: [2]host{client, server}, ports: [2]uint16{cport, sport}, isn: [2]uint32{0x10000000, 0xf0000000}}
}

func (f *flow) tcp(side int, seq uint32, flags layers.TCP, payload []byte) []byte {
	src, dst := f.hosts[side], f.hosts[1-side]
	eth := &layers.Ethernet{SrcMAC: src.mac, DstMAC: dst.mac, EthernetType: layers.EthernetTypeIPv4}
	ip := f.b.ip(src.ip, dst.ip, layers.IPProtocolTCP)
	t := flags
	t.SrcPort, t.DstPort = layers.TCPPort(f.ports[side]), layers.TCPPort(f.ports[1-side])
	t.Seq, t.Window = seq, 512
	if t.ACK {
		t.Ack = f.isn[1-side] + 1 + uint32(f.acked[side])
	}
	t.DataOffset = 5
	t.SetNetworkLayerForChecksum(ip)
	return f.b.serialize(&layers.Ethernet{SrcMAC: eth.SrcMAC, DstMAC: eth.DstMAC, EthernetType: eth.EthernetType}, ip, &t, gopacket.Payload(payload))
}

// connect is the three-way handshake.
func (f *flow) connect(opts ...frameOpt) {
	f.b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil), opts...)
	f.b.add(f.tcp(1, f.isn[1], layers.TCP{SYN: true, ACK: true}, nil))
	f.b.add(f.tcp(0, f.isn[0]+1, layers.TCP{ACK: true}, nil))
}

// write appends to side's stream without sending anything.
func (f *flow) write(side int, data []byte) { f.sent[side] = append(f.sent[side], data...) }

// seg sends side's stream bytes [off, off+n) in one segment.
func (f *flow) seg(side, off, n int, opts ...frameOpt) int {
	f.acked[side] = len(f.sent[1-side])
	return f.b.add(f.tcp(side, f.isn[side]+1+uint32(off), layers.TCP{ACK: true, PSH: true}, f.sent[side][off:off+n]), opts...)
}

// send writes data and sends it in segments of at most mss bytes.
func (f *flow) send(side int, data []byte, mss int) {
	off := len(f.sent[side])
	f.write(side, data)
	for off < len(f.sent[side]) {
		n := min(mss, len(f.sent[side])-off)
		f.seg(side, off, n)
		off += n
	}
}

// ack sends a pure ACK from side.
func (f *flow) ack(side int, opts ...frameOpt) int {
	f.acked[side] = len(f.sent[1-side])
	return f.b.add(f.tcp(side, f.isn[side]+1+uint32(len(f.sent[side])), layers.TCP{ACK: true}, nil), opts...)
}

// close sends side's FIN, after every byte it has written.
func (f *flow) close(side int, opts ...frameOpt) int {
	f.acked[side] = len(f.sent[1-side])
	return f.b.add(f.tcp(side, f.isn[side]+1+uint32(len(f.sent[side])), layers.TCP{FIN: true, ACK: true}, nil), opts...)
}

// feed runs frames through a fresh checker and returns its report.
func feed(t testing.TB, opts Options, frames []Frame) Report {
	t.Helper()
	return fedChecker(t, opts, frames).Report()
}

// fedChecker runs frames through a fresh checker and returns it, for a
// test that looks at its state; it is closed when the test ends.
func fedChecker(t testing.TB, opts Options, frames []Frame) *Checker {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, f := range frames {
		if err := c.Feed(f); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func hostAP(r conformance.Role, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(r.Addr(), port)
}
