package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// How a vxlan port tells its own datagrams from the overlay's and refuses
// a remote that is itself: the socket's address and, bound to every
// address, the network namespace's addresses (self), listed at open and
// every selfRefresh through an addrSource (netlink on Linux, see
// vxlan_linux.go).

// setSelf notes the socket's address and, bound to every address, the
// namespace's (self), and refuses a remote that is this port itself.
// Bound to one address, that is only that address; bound to every
// address, it is any of self or of 127.0.0.0/8 (all of which loopback
// answers) at the port's UDP port, such as a remote list shared by every
// host with this host's own address in it: the port would read back each
// datagram it sent there, deliver its own floods to its own VMs again, and
// learn their MACs on the overlay. A port that cannot list the addresses
// (netlink denied, as in some containers) still opens, saying what it
// does not know.
func (v *VXLANConn) setSelf() error {
	ap := v.c.LocalAddr().(*net.UDPAddr).AddrPort()
	v.bound = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	v.wildcard = v.bound.Addr().IsUnspecified()
	v.self.Store(&map[netip.Addr]bool{})
	if v.addrs != nil {
		if err := v.listSelf(); err != nil {
			v.cfg.Logger.Warn(fmt.Sprintf("vxlan %s: cannot list %s addresses (%v): the port knows its own datagrams only by its UDP port on loopback (127.0.0.0/8), and cannot refuse a remote= that is another of them", v.cfg.Local, v.host(), err))
			if _, broken := v.addrs.(brokenAddrs); broken {
				v.addrs = nil // nothing to list again
			} else {
				v.listFailed = true
			}
		}
	}
	for _, r := range v.order {
		switch {
		case r.ap == v.bound:
			return fmt.Errorf("vxlan %s: remote %s is this port's own address: it would read back every datagram it sends there; name only the other VTEPs", v.cfg.Local, r.ap)
		case v.own(r.ap):
			return fmt.Errorf("vxlan %s: remote %s is %s own address at the port's UDP port: bound to every address, the port would read back every datagram it sends there and take its own VMs' frames for the overlay's; name only the other VTEPs (leave this host out of a remote list shared by every host), or bind the port to one address", v.cfg.Local, r.ap, v.host())
		}
	}
	return nil
}

// host names whose addresses self holds: "this host's", or a network
// namespace's.
func (v *VXLANConn) host() string {
	if v.cfg.Netns != "" {
		return "network namespace " + v.cfg.Netns + "'s"
	}
	return "this host's"
}

// listSelf lists the namespace's addresses into self; on an error, self
// is left as it was.
func (v *VXLANConn) listSelf() error {
	v.addrsMu.Lock()
	if v.addrs == nil {
		v.addrsMu.Unlock()
		return net.ErrClosed
	}
	addrs, err := v.addrs.addrs()
	v.addrsMu.Unlock()
	if err != nil {
		return err
	}
	self := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		self[a] = true
	}
	v.self.Store(&self)
	return nil
}

// refreshSelf lists self again, every selfRefresh, on the port's clock.
// A listing that fails keeps the last list (logged at warn when it starts
// failing, at info when it works again). Each remote that has become one
// of the addresses since is logged at warn: the port now drops what comes
// from it as its own echo (own-echo), its floods there come back to it.
func (v *VXLANConn) refreshSelf() {
	switch err := v.listSelf(); {
	case errors.Is(err, net.ErrClosed):
		return
	case err != nil:
		if !v.listFailed {
			v.cfg.Logger.Warn(fmt.Sprintf("vxlan %s: cannot list %s addresses again (%v): those added since are not known as the port's own; trying again every %v", v.cfg.Local, v.host(), err, selfRefresh))
		}
		v.listFailed = true
	default:
		if v.listFailed {
			v.cfg.Logger.Info(fmt.Sprintf("vxlan %s: %s addresses listed again", v.cfg.Local, v.host()))
		}
		v.listFailed = false
		for _, r := range v.order {
			switch own := v.own(r.ap); {
			case own && !v.ownRemotes[r.ap]:
				v.cfg.Logger.Warn(fmt.Sprintf("remote VTEP %s is now %s own address at the port's UDP port: what the port sends there comes back to it and is dropped (own-echo); leave it out of remote= here, or bind the port to one address", r.name, v.host()),
					"remote", r.name)
				if v.ownRemotes == nil {
					v.ownRemotes = map[netip.AddrPort]bool{}
				}
				v.ownRemotes[r.ap] = true
			case !own:
				delete(v.ownRemotes, r.ap)
			}
		}
	}
	v.watchMu.Lock()
	defer v.watchMu.Unlock()
	if !v.closed.Load() {
		v.refresh.Reset(selfRefresh)
	}
}

// own reports whether a datagram from src was sent by this port's own
// socket: from its address, or, bound to every address, from its UDP port
// at an address of this host's (self, as last listed, or loopback). The
// kernel's vxlan device drops its own datagrams too.
func (v *VXLANConn) own(src netip.AddrPort) bool {
	switch {
	case src == v.bound:
		return true
	case !v.wildcard || src.Port() != v.bound.Port():
		return false
	}
	return src.Addr().IsLoopback() || (*v.self.Load())[src.Addr()]
}

// An addrSource lists the IPv4 addresses of the network namespace a port
// bound to every address was opened in (see own). It is called from the
// port's refresh, one call at a time, and closed once.
type addrSource interface {
	addrs() ([]netip.Addr, error)
	close()
}

// openAddrSource opens the system's addrSource for the calling thread's
// network namespace (a port's, while it binds). Tests stand in for it.
var openAddrSource = openSystemAddrSource

// brokenAddrs is the addrSource of a port whose source could not open:
// its listing fails, saying why.
type brokenAddrs struct{ err error }

func (b brokenAddrs) addrs() ([]netip.Addr, error) { return nil, b.err }
func (brokenAddrs) close()                         {}

// bindsEveryAddress says whether cfg's socket takes its UDP port on
// every address (0.0.0.0, or a group's), so that own needs the host's.
func bindsEveryAddress(cfg VXLANConfig) bool {
	return cfg.Local.Addr().IsUnspecified() || cfg.Group.IsValid()
}

// openAddrs is openAddrSource for a port bound as cfg says: none for one
// bound to one address, which never needs the list; a brokenAddrs when it
// cannot open, since a port that cannot list addresses still opens.
func openAddrs(cfg VXLANConfig) addrSource {
	if !bindsEveryAddress(cfg) {
		return nil
	}
	a, err := openAddrSource()
	if err != nil {
		return brokenAddrs{err}
	}
	return a
}

// ipv4s returns the IPv4 addresses among ips.
func ipv4s(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, b := range ips {
		if ip, ok := netip.AddrFromSlice(b); ok && ip.Unmap().Is4() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}
