//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"l2hub/tap"
)

// openVXLANSocket binds a VTEP's UDP socket, in cfg.Netns if set (an
// existing namespace: a new one would have no underlay to reach): to
// cfg.Local, or, with a group, to the overlay's port on every address (the
// group's datagrams and unicast both arrive there) joined to the group on
// Local's interface. Datagrams are never fragmented (an inner frame that
// does not fit the path is refused, counted), the buffers are sized for
// bursts and the kernel reports its drops. Bound to every address, it
// opens too the namespace's addrSource (openAddrs), there.
func openVXLANSocket(cfg VXLANConfig) (*net.UDPConn, func() error, addrSource, error) {
	var c *net.UDPConn
	var addrs addrSource
	open := func() error {
		var err error
		if c, err = vxlanSocket(cfg); err != nil {
			return err
		}
		addrs = openAddrs(cfg)
		return nil
	}
	if cfg.Netns == "" {
		if err := open(); err != nil {
			return nil, nil, nil, err
		}
		return c, nil, addrs, nil
	}
	release, err := tap.InExistingNetns(cfg.Netns, open)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vxlan: %w", err)
	}
	return c, release, addrs, nil
}

// netlinkAddrs lists a namespace's addresses on a netlink socket opened
// in it, which stays in that namespace whichever thread uses it: one
// RTM_GETADDR dump per listing.
type netlinkAddrs struct{ h *netlink.Handle }

func openSystemAddrSource() (addrSource, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open a netlink socket: %w", err)
	}
	// A dump the kernel does not answer must not hold the refresh.
	if err := h.SetSocketTimeout(2 * time.Second); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	return netlinkAddrs{h}, nil
}

func (n netlinkAddrs) addrs() ([]netip.Addr, error) {
	as, err := n.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		// An interrupted dump (an address changed meanwhile) may have
		// missed one: the next refresh lists them again.
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	ips := make([]net.IP, 0, len(as))
	for _, a := range as {
		if a.IPNet != nil {
			ips = append(ips, a.IP)
		}
	}
	return ipv4s(ips), nil
}

func (n netlinkAddrs) close() { n.h.Close() }

func vxlanSocket(cfg VXLANConfig) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("vxlan %s: %w", cfg.Local, os.NewSyscallError("socket", err))
	}
	f := os.NewFile(uintptr(fd), "vxlan "+cfg.Local.String())
	defer f.Close() // FilePacketConn holds its own copy of fd
	fail := func(what string, err error) (*net.UDPConn, error) {
		return nil, fmt.Errorf("vxlan %s: %w", cfg.Local, os.NewSyscallError(what, err))
	}
	// No SO_REUSEADDR, for a group's port either: it would let two
	// sockets share the port, and Linux gives each unicast datagram to one
	// of them only (the last bound), so a second hub on this host would
	// silently take the other's unicast. Each socket joins its own group,
	// so none needs to share.
	bind := &unix.SockaddrInet4{Port: int(cfg.Local.Port()), Addr: cfg.Local.Addr().As4()}
	if cfg.Group.IsValid() {
		bind.Addr = [4]byte{}
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
		return fail("setsockopt IP_MTU_DISCOVER", err)
	}
	if err := unix.Bind(fd, bind); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("vxlan %s: %w: %s", cfg.Local, os.NewSyscallError("bind", err), portTaken(cfg))
		}
		return fail("bind", err)
	}
	if cfg.Group.IsValid() {
		mreq := &unix.IPMreq{Multiaddr: cfg.Group.As4(), Interface: cfg.Local.Addr().As4()}
		if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return fail("setsockopt IP_ADD_MEMBERSHIP", err)
		}
		if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, cfg.Local.Addr().As4()); err != nil {
			return fail("setsockopt IP_MULTICAST_IF", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
			return fail("setsockopt IP_MULTICAST_LOOP", err)
		}
		// Only this socket's group: not one that another socket of the
		// namespace joined (on any port) and sent to this one.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
			return fail("setsockopt IP_MULTICAST_ALL", err)
		}
	}
	if cfg.TTL > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, cfg.TTL); err != nil {
			return fail("setsockopt IP_TTL", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, cfg.TTL); err != nil {
			return fail("setsockopt IP_MULTICAST_TTL", err)
		}
	}
	size := cfg.SocketBuffer
	if size <= 0 {
		size = DefaultSocketBuffer
	}
	setBuf(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, size)
	setBuf(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, size)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("vxlan %s: %w", cfg.Local, err)
	}
	return pc.(*net.UDPConn), nil
}

// portTaken says why a port's bind may find its UDP port taken and what
// to do. A port is one socket, for one VNI: unlike the kernel, which
// sorts every VNI of a UDP port on one socket, l2hub cannot put two VNIs
// on one local address and port.
func portTaken(cfg VXLANConfig) string {
	where := fmt.Sprintf("UDP port %d of %s", cfg.Local.Port(), cfg.Local.Addr())
	if bindsEveryAddress(cfg) {
		where = fmt.Sprintf("UDP port %d (on some address: this port takes it on every address)", cfg.Local.Port())
		if cfg.Group.IsValid() {
			where = fmt.Sprintf("UDP port %d (on some address: a port with a group takes it on every address)", cfg.Local.Port())
		}
	}
	return fmt.Sprintf("%s is taken, by another vxlan port (of this hub or another hub on this host: one VNI per local address and UDP port), a kernel vxlan device with that dstport, or another program; "+
		"give each VNI its own UDP port (and the remote VTEPs' devices for it that dstport) or its own local address", where)
}

// rxqOverflow reads the SO_RXQ_OVFL control message among a datagram's.
func rxqOverflow(oob []byte) (uint32, bool) {
	for off := 0; off+unix.SizeofCmsghdr <= len(oob); {
		c := (*unix.Cmsghdr)(unsafe.Pointer(&oob[off]))
		if c.Len < unix.SizeofCmsghdr || off+int(c.Len) > len(oob) {
			return 0, false
		}
		if c.Level == unix.SOL_SOCKET && c.Type == unix.SO_RXQ_OVFL && int(c.Len) >= unix.CmsgLen(4) {
			return *(*uint32)(unsafe.Pointer(&oob[off+unix.CmsgLen(0)])), true
		}
		off += unix.CmsgSpace(int(c.Len) - unix.CmsgLen(0))
	}
	return 0, false
}
