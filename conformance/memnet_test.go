package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// memNet is an in-memory IPv4 network for node tests: UDP datagrams go
// through bounded queues (multicast reaches only the sockets that joined
// its group, a probe listening for node-a: smoltcp receives no multicast),
// TCP connections are net.Pipe pairs, and every datagram and
// stream byte is recorded in order for assertions. Safe for concurrent use.
type memNet struct {
	mu       sync.Mutex
	udp      map[netip.AddrPort]*memPacketConn
	tcp      map[netip.AddrPort]*memListener
	seq      int
	sent     []memDatagram
	streams  []*memStream
	dials    []netip.AddrPort // every DialTCP's local address, refused ones too
	nextPort uint16
	// dropUDP, if set, decides which datagrams are lost in transit.
	dropUDP func(d memDatagram) bool
}

type memDatagram struct {
	seq      int
	from, to netip.AddrPort
	data     []byte
}

type memStream struct {
	seq            int // when it was dialled
	client, server netip.AddrPort
	mu             sync.Mutex
	c2s, s2c       bytes.Buffer
}

func (s *memStream) bytes() (c2s, s2c []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.c2s.Bytes()), bytes.Clone(s.s2c.Bytes())
}

func newMemNet() *memNet {
	return &memNet{udp: map[netip.AddrPort]*memPacketConn{}, tcp: map[netip.AddrPort]*memListener{}, nextPort: 40000}
}

func (m *memNet) host(ip netip.Addr) Net { return &memHost{m: m, ip: ip} }

// datagrams returns what was sent, in order.
func (m *memNet) datagrams() []memDatagram {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]memDatagram(nil), m.sent...)
}

// dialsFrom returns the local address of every dial, in order.
func (m *memNet) dialsFrom() []netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]netip.AddrPort(nil), m.dials...)
}

func (m *memNet) allStreams() []*memStream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*memStream(nil), m.streams...)
}

// inject delivers a datagram as if from from.
func (m *memNet) inject(from, to netip.AddrPort, data []byte) {
	m.deliver(from, to, bytes.Clone(data))
}

func (m *memNet) deliver(from, to netip.AddrPort, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	d := memDatagram{seq: m.seq, from: from, to: to, data: data}
	m.sent = append(m.sent, d)
	if m.dropUDP != nil && m.dropUDP(d) {
		return
	}
	if !to.Addr().IsMulticast() {
		if dst := m.udp[to]; dst != nil {
			dst.put(d)
		}
		return
	}
	for _, dst := range m.udp {
		if dst.addr.Port() == to.Port() && dst.addr != from && dst.groups[to.Addr()] {
			dst.put(d)
		}
	}
}

// put queues d, or loses it when the queue is full, as smoltcp's 4-packet
// buffer does.
func (c *memPacketConn) put(d memDatagram) {
	select {
	case c.in <- d:
	default:
	}
}

// JoinGroup makes the socket receive datagrams sent to group on its port.
func (c *memPacketConn) JoinGroup(group netip.Addr) error {
	if !group.IsMulticast() {
		return fmt.Errorf("join %v: not a multicast group", group)
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.groups[group] = true
	return nil
}

type memHost struct {
	m  *memNet
	ip netip.Addr
}

func (h *memHost) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	if laddr.Addr() != h.ip {
		return nil, fmt.Errorf("listen udp %v: not this host's address %v", laddr, h.ip)
	}
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if h.m.udp[laddr] != nil {
		return nil, fmt.Errorf("listen udp %v: address in use", laddr)
	}
	pc := &memPacketConn{m: h.m, addr: laddr, in: make(chan memDatagram, 16), closed: make(chan struct{}), groups: map[netip.Addr]bool{}}
	h.m.udp[laddr] = pc
	return pc, nil
}

func (h *memHost) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	if laddr.Addr() != h.ip {
		return nil, fmt.Errorf("listen tcp %v: not this host's address %v", laddr, h.ip)
	}
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if h.m.tcp[laddr] != nil {
		return nil, fmt.Errorf("listen tcp %v: address in use", laddr)
	}
	ln := &memListener{m: h.m, addr: laddr, ch: make(chan net.Conn, 4), closed: make(chan struct{})}
	h.m.tcp[laddr] = ln
	return ln, nil
}

var errRefused = errors.New("connection refused")

func (h *memHost) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dials = append(m.dials, laddr)
	ln := m.tcp[raddr]
	if ln == nil {
		return nil, fmt.Errorf("dial %v: %w", raddr, errRefused)
	}
	port := laddr.Port()
	if port == 0 {
		m.nextPort++
		port = m.nextPort
	}
	client := netip.AddrPortFrom(h.ip, port)
	m.seq++
	st := &memStream{seq: m.seq, client: client, server: raddr}
	c1, c2 := net.Pipe()
	cc := &memConn{Conn: c1, local: client, remote: raddr, st: st, c2s: true}
	sc := &memConn{Conn: c2, local: raddr, remote: client, st: st}
	select {
	case ln.ch <- sc:
	default:
		c1.Close()
		c2.Close()
		return nil, fmt.Errorf("dial %v: backlog full: %w", raddr, errRefused)
	}
	m.streams = append(m.streams, st)
	return cc, nil
}

type memConn struct {
	net.Conn
	local, remote netip.AddrPort
	st            *memStream
	c2s           bool
}

func (c *memConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.st.mu.Lock()
	if c.c2s {
		c.st.c2s.Write(b[:n])
	} else {
		c.st.s2c.Write(b[:n])
	}
	c.st.mu.Unlock()
	return n, err
}

func (c *memConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *memConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

type memListener struct {
	m      *memNet
	addr   netip.AddrPort
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		l.m.mu.Lock()
		delete(l.m.tcp, l.addr)
		l.m.mu.Unlock()
		close(l.closed)
		for drained := false; !drained; {
			select {
			case c := <-l.ch: // pending connections are reset
				c.Close()
			default:
				drained = true
			}
		}
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

type memPacketConn struct {
	m      *memNet
	addr   netip.AddrPort
	groups map[netip.Addr]bool // joined multicast groups; guarded by m.mu
	in     chan memDatagram
	once   sync.Once
	closed chan struct{}
}

func (c *memPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.data), net.UDPAddrFromAddrPort(d.from), nil // longer datagrams truncate
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *memPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("write to %v: not a UDP address", addr)
	}
	c.m.deliver(c.addr, u.AddrPort(), bytes.Clone(b))
	return len(b), nil
}

func (c *memPacketConn) Close() error {
	c.once.Do(func() {
		c.m.mu.Lock()
		delete(c.m.udp, c.addr)
		c.m.mu.Unlock()
		close(c.closed)
	})
	return nil
}

func (c *memPacketConn) LocalAddr() net.Addr              { return net.UDPAddrFromAddrPort(c.addr) }
func (c *memPacketConn) SetDeadline(time.Time) error      { return nil }
func (c *memPacketConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memPacketConn) SetWriteDeadline(time.Time) error { return nil }
