package serve

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"l2hub/control"
	"l2hub/tap"
	"l2hub/transport"
)

// Checks across a config's ports, run by validate: two ports on one
// VXLAN UDP port, one TAP device or one address, and a udp or unixgram
// peer= that is an address the hub binds itself. Each would otherwise fail
// at bind time with only the kernel's message, or send a port's frames back
// to the hub; refused here, the error names both ports and the field to fix.

// checkSharedVTEPs refuses two vxlan ports on one UDP port of one network
// namespace when either floods to a multicast group: a group port binds
// the overlay's UDP port on every address, so the second of the two would
// fail to bind; refused here, the error names both ports and the config's
// line. (Two ports without a group on one address fail at bind, with a
// message of their own.) The kernel gives one socket per port and sorts by
// VNI; here each VNI needs its own UDP port.
func (c *Config) checkSharedVTEPs() error {
	type vtep struct {
		netns string
		port  string
	}
	first := map[vtep]int{}
	for i, p := range c.Ports {
		if p.Transport != transport.VXLAN {
			continue
		}
		_, port, err := net.SplitHostPort(p.Address)
		if err != nil {
			continue // Validate said so
		}
		k := vtep{p.Options["netns"], port}
		j, ok := first[k]
		if !ok {
			first[k] = i
			continue
		}
		if p.Options["group"] != "" || c.Ports[j].Options["group"] != "" {
			return fieldErr(fmt.Sprintf("UDP port %s is also port %q's, and a group port takes the UDP port on every address: give each vxlan port with a group its own UDP port", port, c.Ports[j].Name),
				"ports", strconv.Itoa(i), "address")
		}
	}
	return nil
}

// checkSharedTAPs refuses two tap ports on one device of one network
// namespace: a TAP device has one user at a time, so the second would fail
// to open as if another program (QEMU) held it. A namespace name and its
// path under tap.NetnsDir are one namespace.
func (c *Config) checkSharedTAPs() error {
	type device struct{ netns, name string }
	first := map[device]int{}
	for i, p := range c.Ports {
		if p.Transport != transport.TAP {
			continue
		}
		ns := p.Options["netns"]
		switch {
		case ns == "":
		case strings.Contains(ns, "/"):
			ns = filepath.Clean(ns)
		default:
			ns = filepath.Join(tap.NetnsDir, ns)
		}
		k := device{ns, p.Address}
		j, ok := first[k]
		if !ok {
			first[k] = i
			continue
		}
		where := ""
		if v := p.Options["netns"]; v != "" {
			where = " in netns " + v
		}
		return fieldErr(fmt.Sprintf("TAP device %s%s is also port %q's, and a TAP device has one user at a time: give port %q a device of its own",
			p.Address, where, c.Ports[j].Name, p.Name), "ports", strconv.Itoa(i), "address")
	}
	return nil
}

// checkSharedAddresses refuses two ports that bind one address: a stream
// listener's TCP port or socket path, a udp or unixgram port's own end.
// The second would fail to bind with only "address already in use", as if
// another program held it. Port 0 (any free port) is never shared, and a
// wildcard host shares its port with every address.
func (c *Config) checkSharedAddresses() error {
	type bound struct{ family, host, port string }
	var seen []bound
	var owner []int
	for i, p := range c.Ports {
		var b bound
		switch p.Transport {
		case transport.TCP, transport.UDP:
			host, port, err := net.SplitHostPort(p.Address)
			if err != nil || port == "0" {
				continue // Validate said so, or any free port
			}
			b = bound{string(p.Transport), host, port}
		case transport.Unix, transport.Unixgram:
			path := p.Address
			if !strings.HasPrefix(path, "@") { // not an abstract name
				path = filepath.Clean(path)
			}
			b = bound{"unix", path, ""}
		default:
			continue
		}
		for k, o := range seen {
			wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
			if o.family != b.family || o.port != b.port || o.host != b.host && !wild(o.host) && !wild(b.host) {
				continue
			}
			j := owner[k]
			return fieldErr(fmt.Sprintf("%s %s is also port %q's (%s): give port %q an address of its own",
				p.Transport, p.Address, c.Ports[j].Name, c.Ports[j].Address, p.Name), "ports", strconv.Itoa(i), "address")
		}
		seen, owner = append(seen, b), append(owner, i)
	}
	return nil
}

// checkPeersBound refuses a udp or unixgram port whose peer= is an
// address the hub binds itself: its own port's, another port's, or (for
// unixgram) the control socket. The hub would send the port's frames to
// itself and take them back as the peer's: a port looped on itself echoes
// every frame to the segment, and two ports naming each other pass one
// broadcast back and forth without end. The flags printed for QEMU could
// not work either (the VM would bind what the hub holds). peer= is the
// VM's end, QEMU's local.*; a swapped or copied line is the usual cause.
// A wildcard bind (0.0.0.0:P) is every local address of port P; socket
// paths are compared absolute, as the hub binds and sends to them.
func (c *Config) checkPeersBound() error {
	type bound struct {
		family, host, port string
		owner              int // index in c.Ports; -1: the control socket
	}
	var binds []bound
	for i, p := range c.Ports {
		switch p.Transport {
		case transport.UDP:
			if host, port, ok := udpHostPort(p.Address); ok {
				binds = append(binds, bound{"udp", host, port, i})
			}
		case transport.VXLAN:
			if p.Options["netns"] != "" {
				continue // another namespace's address
			}
			if host, port, ok := udpHostPort(p.Address); ok {
				if p.Options["group"] != "" {
					host = "" // a group port binds its UDP port on every address
				}
				binds = append(binds, bound{"udp", host, port, i})
			}
		case transport.Unix, transport.Unixgram:
			binds = append(binds, bound{"unix", absPath(p.Address), "", i})
		}
	}
	if c.Control != "off" {
		addr := c.Control
		if addr == "" {
			addr = control.DefaultAddr()
		}
		if network, path := control.ParseAddr(addr); network == "unix" && !strings.HasPrefix(path, "@") {
			binds = append(binds, bound{"unix", absPath(path), "", -1})
		}
	}
	var local func(string) bool // a host of this machine's, asked once
	for i, p := range c.Ports {
		var peer bound
		switch p.Transport {
		case transport.UDP:
			host, port, ok := udpHostPort(p.Peer)
			if !ok {
				continue // Validate said so
			}
			peer = bound{"udp", host, port, i}
		case transport.Unixgram:
			peer = bound{"unix", absPath(p.Peer), "", i}
		default:
			continue
		}
		for _, b := range binds {
			if b.family != peer.family || b.port != peer.port {
				continue
			}
			if b.host != peer.host {
				if b.family != "udp" || b.host != "" && peer.host != "" {
					continue
				}
				if local == nil {
					local = localHosts()
				}
				if !local(peer.host) {
					continue // the wildcard's port on another machine
				}
			}
			const why = "peer= is the VM's end (the address QEMU binds, its local.*), not the hub's"
			var msg string
			switch {
			case b.owner < 0:
				msg = fmt.Sprintf("%s is the hub's control socket: port %q would send its frames there; %s", p.Peer, p.Name, why)
			case b.owner == i:
				msg = fmt.Sprintf("%s is port %q's own address%s: the port would send its frames to itself and take them back as the VM's; %s",
					p.Peer, p.Name, unlessSame(p.Address, p.Peer), why)
			default:
				o := c.Ports[b.owner]
				msg = fmt.Sprintf("%s is port %q's address%s: port %q would send its frames to port %q, and two ports naming each other pass one broadcast back and forth without end; %s",
					p.Peer, o.Name, unlessSame(o.Address, p.Peer), p.Name, o.Name, why)
			}
			return fieldErr(msg, "ports", strconv.Itoa(i), "peer")
		}
	}
	return nil
}

// unlessSame is " (addr)" when addr is written otherwise than as, else "".
func unlessSame(addr, as string) string {
	if addr == as {
		return ""
	}
	return " (" + addr + ")"
}

// udpHostPort splits a udp host:port as checkPeersBound compares it: the
// port as a number, the host as an IPv4 address where it is one
// (localhost is 127.0.0.1, as QEMU's IPv4-only lookup has it), the
// wildcard as "". A port 0 is any free port, never one to compare.
func udpHostPort(a string) (host, port string, ok bool) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", "", false
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", "", false
	}
	if strings.EqualFold(h, "localhost") {
		h = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			return "", strconv.FormatUint(n, 10), true
		}
		h = ip.String()
	}
	return h, strconv.FormatUint(n, 10), true
}

// localHosts reports whether a host (as udpHostPort gives it) is one of
// this machine's addresses: the wildcard, a loopback address, or an
// interface's. A name other than localhost is not resolved: no name is
// looked up before the hub starts.
func localHosts() func(string) bool {
	var mine []netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				mine = append(mine, p.Addr().Unmap())
			}
		}
	}
	return func(h string) bool {
		if h == "" {
			return true
		}
		ip, err := netip.ParseAddr(h)
		return err == nil && (ip.IsLoopback() || slices.Contains(mine, ip))
	}
}

// absPath is a socket path as the hub binds it or sends to it: absolute
// against the working directory, and clean.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}
