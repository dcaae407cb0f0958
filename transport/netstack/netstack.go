package netstack

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"l2hub/hub"
)

const (
	// NICID is the ID of a host's only NIC, for callers of Stack that
	// bind or route by NIC.
	NICID = tcpip.NICID(1)
	// DefaultMTU is the IP MTU of a host unless configured: Ethernet's.
	DefaultMTU = 1500
	// DefaultQueueLen is how many outbound frames wait for ReadFrame before
	// the stack's further sends are dropped (TCP retransmits; UDP is lost, as
	// on a real NIC whose ring is full), counted by KernelDrops.
	DefaultQueueLen = 512
)

// Config describes a host.
type Config struct {
	// MAC is the host's unicast Ethernet address (required).
	MAC net.HardwareAddr
	// Addr is the host's IPv4 address and prefix, such as 10.0.0.2/24
	// (required). Its subnet is reached directly.
	Addr netip.Prefix
	// Gateway, when valid, is the next hop for every other destination.
	Gateway netip.Addr
	// MTU is the IP MTU; 0 means DefaultMTU. Frames are MTU+14 bytes at most.
	MTU int
	// QueueLen bounds the outbound frames waiting for ReadFrame; 0 means
	// DefaultQueueLen.
	QueueLen int
	// Clock is the stack's time (TCP timers, ARP, IGMP); nil means the wall
	// clock (gVisor's own), silently. A hub.VirtualClock makes the stack
	// run in simulated time; internal/vsim drives one.
	Clock hub.Clock
	// Rand is the stack's only source of randomness (initial sequence
	// numbers, ephemeral ports, timer jitter); nil means crypto/rand,
	// silently, and then no two runs send the same frames. A seeded reader
	// makes the stack's choices repeat from run to run; the host serialises
	// its reads.
	Rand io.Reader
}

// Host is an in-process IPv4 host on a gVisor network stack, attached to a
// hub port as a hub.PortIO: ReadFrame returns the Ethernet frames the stack
// sends, WriteFrame hands it the frames the hub delivers. Its helpers give
// callers ordinary net.Conn, net.Listener and net.PacketConn values.
//
// Like a NIC, WriteFrame accepts only frames for the host's MAC, broadcast
// and multicast, and silently ignores the rest (a hub floods). Close tears
// the whole stack down: every connection made through the host ends.
type Host struct {
	cfg     Config
	stack   *stack.Stack
	link    *channel.Endpoint
	dropped atomic.Uint64 // frames the full outbound queue refused (KernelDrops)
	mac     tcpip.LinkAddress
	addr    tcpip.Address
	maxLen  int // largest frame, header included
	desc    string

	ctx    context.Context // ends at Close; unblocks ReadFrame
	cancel context.CancelFunc
	closed atomic.Bool

	// pending is a frame ReadFrames left for its next call: the reader's,
	// but Close releases it.
	pending atomic.Pointer[stack.PacketBuffer]
}

var (
	_ hub.PortIO        = (*Host)(nil)
	_ hub.Describer     = (*Host)(nil)
	_ hub.KernelDropper = (*Host)(nil)
)

// New builds a host with its stack, NIC, address and routes.
func New(cfg Config) (*Host, error) {
	if len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("netstack: MAC %q: want a unicast Ethernet address", cfg.MAC)
	}
	if !cfg.Addr.IsValid() || !cfg.Addr.Addr().Is4() || cfg.Addr.Bits() == 0 {
		return nil, fmt.Errorf("netstack: address %q: want an IPv4 address with prefix, such as 10.0.0.2/24", cfg.Addr)
	}
	if cfg.Gateway.IsValid() && !cfg.Gateway.Is4() {
		return nil, fmt.Errorf("netstack: gateway %s: want an IPv4 address", cfg.Gateway)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MTU < 576 || cfg.MTU > 65535-header.EthernetMinimumSize {
		return nil, fmt.Errorf("netstack: MTU %d outside 576..%d", cfg.MTU, 65535-header.EthernetMinimumSize)
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}

	h := &Host{
		cfg:    cfg,
		mac:    tcpip.LinkAddress(cfg.MAC),
		addr:   tcpip.AddrFrom4(cfg.Addr.Addr().As4()),
		maxLen: cfg.MTU + header.EthernetMinimumSize,
		desc:   fmt.Sprintf("netstack %s %s", cfg.MAC, cfg.Addr),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	var rng io.Reader
	if cfg.Rand != nil {
		rng = &lockedReader{r: cfg.Rand}
	}
	h.stack = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
		Clock:              stackClock(cfg.Clock),
		SecureRNG:          rng,
	})
	h.link = channel.New(cfg.QueueLen, uint32(h.maxLen), h.mac)
	fail := func(what string, err tcpip.Error) (*Host, error) {
		h.Close()
		return nil, fmt.Errorf("netstack: %s: %s", what, err)
	}
	// Loss recovery by SACK and duplicate acknowledgements (RFC 6675), not
	// gVisor's RACK: after an outage that takes a whole flight (a partition
	// healing, a switch that stopped reading for a moment) RACK recovered
	// one segment per retransmission timeout, 30 s for 1 MB where a Linux
	// guest needs one timeout (TestTCPRecoversFromAnOutage).
	recovery := tcpip.TCPRecovery(0)
	if err := h.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &recovery); err != nil {
		return fail("set TCP loss recovery", err)
	}
	if err := h.stack.CreateNIC(NICID, ethernet.New(&countingLink{Endpoint: h.link, dropped: &h.dropped})); err != nil {
		return fail("create NIC", err)
	}
	own := tcpip.AddressWithPrefix{Address: h.addr, PrefixLen: cfg.Addr.Bits()}
	if err := h.stack.AddProtocolAddress(NICID, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: own}, stack.AddressProperties{}); err != nil {
		return fail("add address", err)
	}
	// The subnet and the multicast range are on the link; the rest goes
	// through the gateway, if there is one.
	mcast := tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{224, 0, 0, 0}), PrefixLen: 4}
	routes := []tcpip.Route{
		{Destination: own.Subnet(), NIC: NICID},
		{Destination: mcast.Subnet(), NIC: NICID},
	}
	if cfg.Gateway.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: tcpip.AddrFrom4(cfg.Gateway.As4()), NIC: NICID})
	}
	h.stack.SetRouteTable(routes)
	return h, nil
}

// ReadFrame returns the next Ethernet frame the host sends, blocking until
// there is one. A frame longer than buf is discarded as a *hub.FrameError
// (DropOversize); it cannot happen with a buffer of MTU+14 bytes.
func (h *Host) ReadFrame(buf []byte) (int, error) {
	if h.closed.Load() {
		return 0, net.ErrClosed
	}
	pkt := h.link.ReadContext(h.ctx)
	if pkt == nil {
		return 0, net.ErrClosed
	}
	return copyOut(pkt, buf)
}

// ReadFrames implements hub.PortIO: it waits for the host's next frame,
// then takes every further one it has queued, up to len(frames), each
// copied once into a hub.Frame of its size. A frame longer than limit is
// discarded as a *hub.FrameError on its own call.
func (h *Host) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	n := 0
	for n < len(frames) {
		if h.closed.Load() {
			return 0, net.ErrClosed
		}
		pkt := h.pending.Swap(nil)
		if pkt == nil && n == 0 {
			pkt = h.link.ReadContext(h.ctx)
			if pkt == nil {
				return 0, net.ErrClosed
			}
		} else if pkt == nil {
			if pkt = h.link.Read(); pkt == nil {
				break
			}
		}
		size := pkt.Size()
		if size > limit {
			if n > 0 {
				h.pending.Store(pkt) // reported by the next call
				if h.closed.Load() {
					h.releasePending() // Close may have looked already
				}
				break
			}
			pkt.DecRef()
			return 0, &hub.FrameError{Reason: hub.DropOversize, Len: size}
		}
		f := hub.NewFrame(size)
		b := f.Bytes()
		for _, s := range pkt.AsSlices() {
			b = b[copy(b, s):]
		}
		pkt.DecRef()
		frames[n] = f
		n++
	}
	return n, nil
}

// WriteFrames implements hub.PortIO: each frame as WriteFrame takes it.
func (h *Host) WriteFrames(frames []*hub.Frame) (int, error) {
	for i, f := range frames {
		if err := h.WriteFrame(f.Bytes()); err != nil {
			return i, err
		}
	}
	return len(frames), nil
}

// PollFrame is ReadFrame without the wait: ok is false when the host has no
// frame to send right now. A simulation drives the host with it.
func (h *Host) PollFrame(buf []byte) (n int, ok bool, err error) {
	if h.closed.Load() {
		return 0, false, net.ErrClosed
	}
	pkt := h.link.Read()
	if pkt == nil {
		return 0, false, nil
	}
	n, err = copyOut(pkt, buf)
	return n, true, err
}

// copyOut copies an outbound packet into buf and releases it.
func copyOut(pkt *stack.PacketBuffer, buf []byte) (int, error) {
	defer pkt.DecRef()
	size := pkt.Size()
	if size > len(buf) {
		return 0, &hub.FrameError{Reason: hub.DropOversize, Len: size}
	}
	n := 0
	for _, s := range pkt.AsSlices() {
		n += copy(buf[n:], s)
	}
	return n, nil
}

// WriteFrame delivers frame to the stack, which processes it before
// WriteFrame returns. Frames for other unicast MACs are ignored (nil), as a
// NIC's filter does; a runt or a frame longer than MTU+14 bytes is refused
// as a *hub.FrameError. It does not retain frame.
func (h *Host) WriteFrame(frame []byte) error {
	if h.closed.Load() {
		return net.ErrClosed
	}
	switch n := len(frame); {
	case n < header.EthernetMinimumSize:
		return &hub.FrameError{Reason: hub.DropRunt, Len: n}
	case n > h.maxLen:
		return &hub.FrameError{Reason: hub.DropOversize, Len: n}
	}
	dst := header.Ethernet(frame).DestinationAddress()
	if dst != h.mac && !header.IsMulticastEthernetAddress(dst) { // broadcast has the group bit too
		return nil
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	h.link.InjectInbound(0, pkt) // the ethernet endpoint reads the EtherType
	return nil
}

// Close shuts the host down: ReadFrame and WriteFrame return net.ErrClosed
// and every connection made through the host ends. Calls after the first
// return net.ErrClosed.
func (h *Host) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	h.cancel()
	h.stack.Close()
	h.link.Close()
	h.stack.Wait()
	h.releasePending()
	return nil
}

func (h *Host) releasePending() {
	if pkt := h.pending.Swap(nil); pkt != nil {
		pkt.DecRef()
	}
}

// lockedReader serialises reads of a reader that is not safe for
// concurrent use, such as a seeded math/rand/v2 ChaCha8.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// KernelDrops implements hub.KernelDropper: the frames the stack sent while
// its outbound queue (Config.QueueLen) was full, which it dropped as a NIC
// drops on a full ring. A hub that pauses reading the host (its frames wait
// for a slow port) counts them on the host's port as kernel-overflow, so
// no loss is silent.
func (h *Host) KernelDrops() uint64 { return h.dropped.Load() }

// countingLink is the host's NIC below its Ethernet layer: the channel
// endpoint ReadFrames takes frames from, counting the frames its full queue
// refused (the channel endpoint drops them and reports success).
type countingLink struct {
	*channel.Endpoint
	dropped *atomic.Uint64
}

// WritePackets implements stack.LinkEndpoint.
func (l *countingLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n, err := l.Endpoint.WritePackets(pkts)
	if err == nil && n < pkts.Len() {
		l.dropped.Add(uint64(pkts.Len() - n))
	}
	return n, err
}

// Describe says what the host is ("netstack 02:00:00:00:00:01 10.0.0.2/24").
func (h *Host) Describe() string { return h.desc }

// Addr returns the host's IPv4 address.
func (h *Host) Addr() netip.Addr { return h.cfg.Addr.Addr() }

// MAC returns the host's Ethernet address.
func (h *Host) MAC() net.HardwareAddr { return h.cfg.MAC }

// Stack exposes the gVisor stack for what the helpers do not cover. The
// NIC's ID is NICID.
func (h *Host) Stack() *stack.Stack { return h.stack }

func (h *Host) full(a netip.AddrPort) (tcpip.FullAddress, error) {
	if !a.Addr().Is4() && !a.Addr().Is4In6() {
		return tcpip.FullAddress{}, fmt.Errorf("netstack: %s: only IPv4 is supported", a)
	}
	return tcpip.FullAddress{NIC: NICID, Addr: tcpip.AddrFrom4(a.Addr().Unmap().As4()), Port: a.Port()}, nil
}

// DialTCP connects to addr.
func (h *Host) DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	fa, err := h.full(addr)
	if err != nil {
		return nil, err
	}
	c, err := gonet.DialContextTCP(ctx, h.stack, fa, ipv4.ProtocolNumber)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialTCPFrom connects to addr from the given local port (0 picks one), as
// a guest that reuses a fixed source port on every redial does.
func (h *Host) DialTCPFrom(ctx context.Context, localPort uint16, addr netip.AddrPort) (net.Conn, error) {
	if localPort == 0 {
		return h.DialTCP(ctx, addr)
	}
	fa, err := h.full(addr)
	if err != nil {
		return nil, err
	}
	local := tcpip.FullAddress{NIC: NICID, Addr: h.addr, Port: localPort}
	c, err := gonet.DialTCPWithBind(ctx, h.stack, local, fa, ipv4.ProtocolNumber)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListenTCP listens on the host's address at port (0 picks one).
func (h *Host) ListenTCP(port uint16) (net.Listener, error) {
	ln, err := gonet.ListenTCP(h.stack, tcpip.FullAddress{NIC: NICID, Addr: h.addr, Port: port}, ipv4.ProtocolNumber)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// ListenUDP opens a UDP socket on port (0 picks one) of every address the
// host receives on: its own, broadcast, and the multicast groups it joins.
// Broadcast sends are allowed. WriteTo takes a *net.UDPAddr whose IP is in
// 4-byte form (net.UDPAddrFromAddrPort gives one).
func (h *Host) ListenUDP(port uint16) (*UDPConn, error) {
	var wq waiter.Queue
	ep, terr := h.stack.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, fmt.Errorf("netstack: udp endpoint: %s", terr)
	}
	ep.SocketOptions().SetBroadcast(true)
	if terr := ep.Bind(tcpip.FullAddress{NIC: NICID, Port: port}); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: udp bind port %d: %s", port, terr)
	}
	return &UDPConn{UDPConn: gonet.NewUDPConn(&wq, ep), ep: ep, host: h}, nil
}

// UDPConn is a UDP socket on a Host: a net.PacketConn (and net.Conn for
// reads) that can also join multicast groups.
type UDPConn struct {
	*gonet.UDPConn
	ep   tcpip.Endpoint
	host *Host
}

// JoinGroup makes the host receive datagrams sent to the IPv4 multicast
// group on this socket's port (it sends an IGMP report).
func (c *UDPConn) JoinGroup(group netip.Addr) error {
	if !group.Is4() || !group.IsMulticast() {
		return fmt.Errorf("netstack: %s is not an IPv4 multicast group", group)
	}
	opt := tcpip.AddMembershipOption{NIC: NICID, InterfaceAddr: c.host.addr, MulticastAddr: tcpip.AddrFrom4(group.As4())}
	if terr := c.ep.SetSockOpt(&opt); terr != nil {
		return fmt.Errorf("netstack: join %s: %s", group, terr)
	}
	return nil
}

// Ping sends one ICMP echo request to dst and waits for its reply, until
// ctx ends.
func (h *Host) Ping(ctx context.Context, dst netip.Addr, seq uint16) error {
	fa, err := h.full(netip.AddrPortFrom(dst, 0))
	if err != nil {
		return err
	}
	var wq waiter.Queue
	ep, terr := h.stack.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return fmt.Errorf("netstack: icmp endpoint: %s", terr)
	}
	conn := gonet.NewUDPConn(&wq, ep)
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()

	// An echo request; the stack's ping endpoint fills in the identifier
	// and the checksum.
	req := make([]byte, header.ICMPv4MinimumSize+8)
	icmpHdr := header.ICMPv4(req)
	icmpHdr.SetType(header.ICMPv4Echo)
	icmpHdr.SetSequence(seq)
	binary.BigEndian.PutUint64(req[header.ICMPv4MinimumSize:], 0x6c32687562 /* "l2hub" */)
	to := &net.UDPAddr{IP: net.IP(fa.Addr.AsSlice())}
	if _, err := conn.WriteTo(req, to); err != nil {
		return fmt.Errorf("netstack: ping %s: %w", dst, err)
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("netstack: ping %s seq %d: %w", dst, seq, ctx.Err())
			}
			return fmt.Errorf("netstack: ping %s: %w", dst, err)
		}
		reply := header.ICMPv4(buf[:n])
		if n >= header.ICMPv4MinimumSize && reply.Type() == header.ICMPv4EchoReply && reply.Sequence() == seq {
			return nil
		}
	}
}
