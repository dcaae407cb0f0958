package transport

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// JoinMcast makes the hub one more member of a QEMU socket multicast segment
// (`-netdev socket,mcast=G:P,localaddr=A`, or `-netdev dgram` with a
// multicast remote.host). group is "G:P"; local is A, the IPv4 address of
// the interface to join on (127.0.0.1 joins on lo). Port 0 picks a free
// port; LocalAddr reports it.
//
// QEMU members bind G:P with SO_REUSEADDR, join G on A, keep multicast loop
// on and send from that same socket, so every member's datagrams come from
// A:P and every member hears its own echo. The hub receives the same way (a
// socket bound to G:P, joined on A) but sends from a second socket bound to
// A:<ephemeral> (IP_MULTICAST_IF A, loop on, TTL 1). Its own echoes therefore
// arrive from an address no QEMU member uses, and ReadFrame skips them
// silently: a frame the hub sends is never read back into the hub. Every
// other source is a member and is accepted; members are told apart by
// source MAC, not by address. On Linux the hub's member hears only the
// group as it arrives on A, not the same group and port on the host's
// other interfaces (see openMcastSocket), which a QEMU member does hear.
// So a QEMU member must join on A as well: localaddr=A, which the flags
// [Spec.QEMUArgs] gives always name. One started without localaddr= joins
// on the interface of the route to G (eth0 on a host with a default route,
// not lo) and sends there; the hub does not hear it, though it hears the
// hub.
func JoinMcast(group, local string, maxFrame, bufSize int) (*DatagramConn, error) {
	g, a, err := parseMcast(group, local)
	if err != nil {
		return nil, err
	}
	rx, err := openMcastSocket(g, a, true)
	if err != nil {
		return nil, err
	}
	g = rx.LocalAddr().(*net.UDPAddr).AddrPort()
	g = netip.AddrPortFrom(g.Addr().Unmap(), g.Port())
	tx, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
	if err != nil {
		rx.Close()
		return nil, fmt.Errorf("mcast %s: send socket on %s: %w", g, a, err)
	}
	if err := control(tx, func(fd int) error { return setMcastSend(fd, a) }); err != nil {
		rx.Close()
		tx.Close()
		return nil, fmt.Errorf("mcast %s: send socket on %s: %w", g, a, err)
	}
	self := tx.LocalAddr().(*net.UDPAddr).AddrPort()
	s := &mcastSocket{rxc: rx, txc: tx, group: g, self: netip.AddrPortFrom(self.Addr().Unmap(), self.Port())}
	return newDatagramConn(s, maxFrame, fmt.Sprintf("mcast %s on %s from %s", g, a, s.self), bufSize), nil
}

// JoinMcastLikeQEMU joins the group exactly as a QEMU VM does: one socket
// bound to G:P that sends from A:P and hears its own echo (ReadFrame returns
// the conn's own frames too). It plays a VM in tests and load generators.
func JoinMcastLikeQEMU(group, local string, maxFrame int) (*DatagramConn, error) {
	g, a, err := parseMcast(group, local)
	if err != nil {
		return nil, err
	}
	if g.Port() == 0 {
		// A member sends to the group's port and receives on its own: with
		// port 0 it would bind an ephemeral port and send to G:0.
		return nil, fmt.Errorf("mcast %s: a member needs the group's port (QEMU's mcast=G:P requires one)", group)
	}
	c, err := openMcastSocket(g, a, false)
	if err != nil {
		return nil, err
	}
	s := &mcastSocket{rxc: c, txc: c, group: g}
	return newDatagramConn(s, maxFrame, fmt.Sprintf("mcast %s on %s (member)", g, a), 0), nil
}

func parseMcast(group, local string) (netip.AddrPort, netip.Addr, error) {
	g, err := netip.ParseAddrPort(group)
	if err != nil || !g.Addr().Is4() || !g.Addr().IsMulticast() {
		return g, netip.Addr{}, fmt.Errorf("mcast %s: want an IPv4 multicast group and port (230.0.0.1:37021)", group)
	}
	a, err := netip.ParseAddr(local)
	if err != nil || !a.Is4() || a.IsMulticast() || a.IsUnspecified() {
		return g, a, fmt.Errorf("mcast %s: local %q: want the IPv4 address of the interface to join on (127.0.0.1)", group, local)
	}
	return g, a, nil
}

// openMcastSocket opens a socket bound to g with SO_REUSEADDR, joined to g on
// the interface with address a, set to send there too. The standard library
// would bind a multicast address as the wildcard (0.0.0.0:P), which also
// hears unicast and other groups on P; QEMU binds G:P, and so do we.
//
// onlyJoined makes the socket hear only the segment it joined, on a: Linux
// by default hands a socket bound to G:P the datagrams for G:P from every
// interface where any socket of the host joined G (IP_MULTICAST_ALL), so a
// lab on lo would hear another lab's members on a bridge that use the same
// group and port. The hub's member turns that off; a QEMU member does not
// (net/dgram.c leaves it), and neither does JoinMcastLikeQEMU.
func openMcastSocket(g netip.AddrPort, a netip.Addr, onlyJoined bool) (*net.UDPConn, error) {
	fd, err := newUDPSocketFD()
	if err != nil {
		return nil, fmt.Errorf("mcast %s: %w", g, os.NewSyscallError("socket", err))
	}
	f := os.NewFile(uintptr(fd), "mcast "+g.String())
	defer f.Close() // FilePacketConn holds its own copy of fd
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("mcast %s: %w", g, os.NewSyscallError("setsockopt SO_REUSEADDR", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(g.Port()), Addr: g.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("mcast %s: %w", g, os.NewSyscallError("bind", err))
	}
	mreq := &unix.IPMreq{Multiaddr: g.Addr().As4(), Interface: a.As4()}
	if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
		return nil, fmt.Errorf("mcast %s: join on %s: %w", g, a, os.NewSyscallError("setsockopt IP_ADD_MEMBERSHIP", err))
	}
	if err := setMcastSend(fd, a); err != nil {
		return nil, fmt.Errorf("mcast %s: %w", g, err)
	}
	if onlyJoined {
		if err := hearOnlyJoined(fd); err != nil {
			return nil, fmt.Errorf("mcast %s: %w", g, err)
		}
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("mcast %s: %w", g, err)
	}
	return pc.(*net.UDPConn), nil
}

// setMcastSend sends multicast out of the interface with address a, loops
// it back to local members (QEMU's peers are local) and keeps it on the
// link (TTL 1).
func setMcastSend(fd int, a netip.Addr) error {
	if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, a.As4()); err != nil {
		return os.NewSyscallError("setsockopt IP_MULTICAST_IF", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 1); err != nil {
		return os.NewSyscallError("setsockopt IP_MULTICAST_LOOP", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 1); err != nil {
		return os.NewSyscallError("setsockopt IP_MULTICAST_TTL", err)
	}
	return nil
}

func control(c *net.UDPConn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

type mcastSocket struct {
	rxc, txc *net.UDPConn // the same socket for a QEMU-like member
	group    netip.AddrPort
	// self is the hub's send address, whose echoes recv skips; the zero
	// value (a QEMU-like member) skips nothing.
	self netip.AddrPort
}

func (s *mcastSocket) recv(b []byte) (int, sockAddr, error) {
	n, src, err := s.rxc.ReadFromUDPAddrPort(b)
	return n, sockAddr{ap: src}, err
}

func (s *mcastSocket) send(b []byte) error {
	_, err := s.txc.WriteToUDPAddrPort(b, s.group)
	return err
}

func (s *mcastSocket) close() error {
	err := s.rxc.Close()
	if s.txc != s.rxc {
		if terr := s.txc.Close(); err == nil {
			err = terr
		}
	}
	return err
}

func (s *mcastSocket) rx() *net.UDPConn        { return s.rxc }
func (s *mcastSocket) tx() *net.UDPConn        { return s.txc }
func (s *mcastSocket) unixConn() *net.UnixConn { return nil }
func (s *mcastSocket) dest() sockAddr          { return sockAddr{ap: s.group} }
func (s *mcastSocket) classify(src sockAddr) verdict {
	if s.self.IsValid() && src.ap.Port() == s.self.Port() && src.ap.Addr().Unmap() == s.self.Addr() {
		return skip
	}
	return accept
}
