package checker

import "net/netip"

// Bounds of the address map. Every address of the nexus subnet (at most
// 256) is learned, and the MACs that send from it up to maxLanMACs: they
// are the nodes the checks are about (peerOf, the roles, the session's
// links). Other MACs and addresses (DHCP, IPv6, a scan, a load generator)
// are learned while there is room.
const (
	maxLanMACs   = 1024
	maxOtherMACs = 256
	maxAddrs     = 256 // outside the nexus subnet
)

// addrMap is where the VMs are, as the frames the hub took in at ingress
// and delivered teach it: the hub port each MAC sends from, and the MAC
// each IP address sends from. A port is a set of MACs: a TAP with a bridge
// behind it, a passive member of a multicast segment (README's os2vm watch)
// or a VXLAN port has several VMs behind it.
//
// A MAC is where its newest delivered frame came from, as a learning
// switch has it. An address is the newest delivered sender's, except that
// inside the nexus subnet the MAC the OS derives it from (nexus-wire §1)
// keeps it against one it does not: a VM on another MAC that sends from
// node-a's address spoofs it, or is no OS node. Frames the hub dropped
// (an anti-spoof rule, a partition) teach nothing: no one took them. An
// address claimed by two MACs is in doubt: it no longer says which VM
// drops a frame, and the frame is taken to reach its port.
type addrMap struct {
	ports map[[6]byte]macAt
	addrs map[netip.Addr]addrAt
	// lanMACs and otherMACs count ports' entries by class, otherAddrs
	// addrs' outside the nexus subnet.
	lanMACs, otherMACs, otherAddrs int
	// full counts the frames whose MAC or address the bounds kept out,
	// fullFrame is the first.
	full, fullFrame int
	onPort          [][6]byte // macsOn's result, reused
}

// macAt is where a MAC sends from: the hub port, and whether it sent from
// an address of the nexus subnet (which bounds it by maxLanMACs).
type macAt struct {
	port string
	lan  bool
}

// addrAt is the MAC an IP address sends from; conflict: another MAC sent
// from it too.
type addrAt struct {
	mac      [6]byte
	conflict bool
}

func (m *addrMap) init() {
	m.ports = map[[6]byte]macAt{}
	m.addrs = map[netip.Addr]addrAt{}
}

// learn notes where the sender of an ingress frame that port sent is: its
// source MAC's port and (a unicast one) its source address's MAC.
func (m *addrMap) learn(f *Frame, p *packet) {
	if f.Dropped || p.srcMAC[0]&1 != 0 {
		return
	}
	lan, full := lanPrefix.Contains(p.src), false
	at, ok := m.ports[p.srcMAC]
	switch {
	case ok:
		at.port = f.Port
		if lan && !at.lan && m.lanMACs < maxLanMACs {
			at.lan = true
			m.lanMACs++
			m.otherMACs--
		}
		m.ports[p.srcMAC] = at
	case lan && m.lanMACs < maxLanMACs:
		m.ports[p.srcMAC] = macAt{f.Port, true}
		m.lanMACs++
	case m.otherMACs < maxOtherMACs:
		m.ports[p.srcMAC] = macAt{f.Port, false}
		m.otherMACs++
	default:
		full = true
	}
	if unicastAddr(p.src) {
		old, ok := m.addrs[p.src]
		switch {
		case !ok && !lan && m.otherAddrs >= maxAddrs:
			full = true
		case !ok:
			m.addrs[p.src] = addrAt{mac: p.srcMAC}
			if !lan {
				m.otherAddrs++
			}
		case old.mac == p.srcMAC:
		case lan && osAddr(old.mac) == p.src && osAddr(p.srcMAC) != p.src:
			old.conflict = true // the OS's MAC for the address keeps it
			m.addrs[p.src] = old
		default:
			m.addrs[p.src] = addrAt{mac: p.srcMAC, conflict: true}
		}
	}
	if full {
		if m.full == 0 {
			m.fullFrame = f.Number
		}
		m.full++
	}
}

// unicastAddr reports whether ip is one VM's address: not unspecified,
// multicast or an IPv4 broadcast.
func unicastAddr(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && !ipBroadcast(ip)
}

// portOf returns the port mac sends from.
func (m *addrMap) portOf(mac [6]byte) (string, bool) {
	at, ok := m.ports[mac]
	return at.port, ok
}

// known reports whether some VM sends from ip.
func (m *addrMap) known(ip netip.Addr) bool {
	_, ok := m.addrs[ip]
	return ok
}

// portOfAddr returns the port of the VM that sends from ip: the newest
// sender's (see addrMap).
func (m *addrMap) portOfAddr(ip netip.Addr) (string, bool) {
	at, ok := m.addrs[ip]
	if !ok {
		return "", false
	}
	return m.portOf(at.mac)
}

// owner returns the MAC of the one VM that sends from ip; ok is false if
// none is known, or if two MACs claimed it.
func (m *addrMap) owner(ip netip.Addr) (mac [6]byte, ok bool) {
	at, ok := m.addrs[ip]
	return at.mac, ok && !at.conflict
}

// macOf reports whether mac is the MAC of the VM at ip: the one learned
// from its frames, or, with none learned or two, the one the OS derives ip
// from (10.42.0.mac[5], 0 becoming 1; nexus-wire §1).
func (m *addrMap) macOf(ip netip.Addr, mac [6]byte) bool {
	at, ok := m.addrs[ip]
	switch {
	case ok && at.mac == mac:
		return true
	case ok && !at.conflict:
		return false
	}
	return mac[0]&1 == 0 && ip == osAddr(mac)
}

// macsOn returns the MACs that send from port, in no particular order;
// the slice is reused by the next call.
func (m *addrMap) macsOn(port string) [][6]byte {
	m.onPort = m.onPort[:0]
	for mac, at := range m.ports {
		if at.port == port {
			m.onPort = append(m.onPort, mac)
		}
	}
	return m.onPort
}

// reaches reports whether a VM behind port f.Port takes an injected frame.
// The hub writes it to that port alone, so it reaches each VM behind it
// that the frame is addressed to: the one whose MAC it carries, or all of
// them for a group address. A VM's NIC drops a unicast frame to another
// MAC, and its IP stack a datagram to another VM's address; and a frame
// from its own MAC or address is its own sent back to it, which neither it
// nor its peer takes for the peer's. What is not known is taken to reach:
// a port whose VMs have not sent yet, an address two MACs claimed, and a
// VM not seen yet behind a port that has two or more (a shared segment
// where one VM stays silent). A port with one known MAC is taken to have
// that VM alone, as most have, so a unicast frame to another MAC reaches
// no one there.
func (m *addrMap) reaches(f *Frame, p *packet) bool {
	if f.Port == "" {
		return true
	}
	if p.dstMAC[0]&1 == 0 {
		if port, ok := m.portOf(p.dstMAC); ok {
			return port == f.Port && m.takes(p.dstMAC, p)
		}
		if len(m.macsOn(f.Port)) == 1 {
			return false
		}
		return m.unseenTakes(p)
	}
	macs := m.macsOn(f.Port)
	for _, mac := range macs {
		if m.takes(mac, p) {
			return true
		}
	}
	return len(macs) != 1 && m.unseenTakes(p)
}

// takes reports whether the VM with mac, which the frame reaches, takes it.
func (m *addrMap) takes(mac [6]byte, p *packet) bool {
	if mac == p.srcMAC {
		return false // its own frame, sent back to it
	}
	if owner, ok := m.owner(p.src); ok && owner == mac {
		return false // from its own address
	}
	if unicastAddr(p.dst) {
		if owner, ok := m.owner(p.dst); ok && owner != mac {
			return false // to another VM's address
		}
	}
	return true
}

// unseenTakes reports whether a VM that has sent nothing takes the frame:
// it has no address the checker knows, so one another VM sends from is not
// its own.
func (m *addrMap) unseenTakes(p *packet) bool {
	if unicastAddr(p.dst) {
		if _, ok := m.owner(p.dst); ok {
			return false
		}
	}
	return true
}
