package transport

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"l2hub/hub"
	"l2hub/tap"
)

// What a valid Spec tells the other end and the user: the QEMU -netdev
// values that give a VM the port (QEMUArgs, and AnyPort for a port whose
// number is known only once the hub binds it), the banner's note for a
// port with no QEMU back end (HostNote), the MTU the TAP devices of a
// segment with a VXLAN port get by default (WithSegmentMTU), and a spec's
// socket paths as an opened port names them (WithAbsPaths).

// QEMUArgs returns the -netdev values that give a VM this port, with the
// netdev id id: first the modern spelling (QEMU 7.2+: stream, dgram), then
// the legacy socket spelling where one exists. A VM uses any one of them.
// Hosts the hub binds as "all interfaces" are given to the VM as loopback.
// It returns nil for an invalid spec and for tap (a host device has no
// QEMU peer). Apply it to a Runner's Spec to get ports chosen at bind time.
//
//	tcp         stream,id=n0,server=off,addr.type=inet,addr.host=H,addr.port=P   socket,id=n0,connect=H:P
//	tcp-dial    stream,id=n0,server=on,addr.type=inet,addr.host=H,addr.port=P    socket,id=n0,listen=H:P
//	unix        stream,id=n0,server=off,addr.type=unix,addr.path=S
//	unix-dial   stream,id=n0,server=on,addr.type=unix,addr.path=S
//	udp         dgram,id=n0,local.type=inet,local.host=PH,local.port=PP,remote.type=inet,remote.host=H,remote.port=P
//	            socket,id=n0,udp=H:P,localaddr=PH:PP
//	unixgram    dgram,id=n0,local.type=unix,local.path=PEER,remote.type=unix,remote.path=S
//	mcast       dgram,id=n0,remote.type=inet,remote.host=G,remote.port=P,local.type=inet,local.host=A,local.port=0
//	            socket,id=n0,mcast=G:P,localaddr=A
//
// (QEMU 7.2's dgram refuses local.type=inet without local.port; for a
// multicast remote it uses only local.host, so 0 does.) An mcast port's
// flags always name its local= (127.0.0.1 by default): the hub hears only
// members that joined on that interface (see [JoinMcast]).
func (s Spec) QEMUArgs(id string) []string {
	if s.Validate() != nil || id == "" {
		return nil
	}
	id = escapeOption(id)
	switch s.Transport {
	case TCP, TCPDial:
		server, legacy := "off", "connect"
		if s.Transport == TCPDial {
			server, legacy = "on", "listen"
		}
		h, p := vmHostPort(s.Address)
		args := []string{fmt.Sprintf("stream,id=%s,server=%s,addr.type=inet,addr.host=%s,addr.port=%s", id, server, h, p)}
		if !strings.Contains(h, ":") { // the legacy parser takes no IPv6
			args = append(args, fmt.Sprintf("socket,id=%s,%s=%s:%s", id, legacy, h, p))
		}
		return args
	case Unix, UnixDial:
		server := "off"
		if s.Transport == UnixDial {
			server = "on"
		}
		return []string{fmt.Sprintf("stream,id=%s,server=%s,addr.type=unix,addr.path=%s", id, server, escapeOption(s.Address))}
	case UDP:
		h, p := vmHostPort(s.Address)
		ph, pp := vmHostPort(s.Peer)
		return []string{ // both IPv4: Validate refuses IPv6 for udp
			fmt.Sprintf("dgram,id=%s,local.type=inet,local.host=%s,local.port=%s,remote.type=inet,remote.host=%s,remote.port=%s", id, ph, pp, h, p),
			fmt.Sprintf("socket,id=%s,udp=%s:%s,localaddr=%s:%s", id, h, p, ph, pp),
		}
	case Unixgram:
		return []string{fmt.Sprintf("dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s", id, escapeOption(s.Peer), escapeOption(s.Address))}
	case Mcast:
		g := netip.MustParseAddrPort(s.Address)
		a := s.mcastLocal()
		return []string{
			fmt.Sprintf("dgram,id=%s,remote.type=inet,remote.host=%s,remote.port=%d,local.type=inet,local.host=%s,local.port=0", id, g.Addr(), g.Port(), a),
			fmt.Sprintf("socket,id=%s,mcast=%s,localaddr=%s", id, g, a),
		}
	}
	return nil
}

// WithAbsPaths returns s with its socket files named as a Runner's Spec
// names them once opened: a unix or unix-dial port's address, and a
// unixgram port's address and peer, absolute against the working
// directory where that fits a socket address (see absSocketPath). It is
// for the -netdev values of a port not yet opened (l2hub qemu-args), so
// that they are those serve prints, which a QEMU started in another
// directory can use. Every other spec is returned as it is.
func (s Spec) WithAbsPaths() Spec {
	switch s.Transport {
	case Unix, UnixDial:
		s.Address = absSocketPath(s.Address)
	case Unixgram:
		s.Address, s.Peer = absSocketPath(s.Address), absSocketPath(s.Peer)
	}
	return s
}

func (s Spec) mcastLocal() string {
	if s.Local == "" {
		return DefaultMcastLocal
	}
	return s.Local
}

// vmHostPort splits a valid host:port and turns an "all interfaces" host
// into the loopback address a VM on this machine reaches it by.
func vmHostPort(a string) (host, port string) {
	host, port, _ = net.SplitHostPort(a)
	if host == "" {
		return "127.0.0.1", port
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		if ip.Is4() {
			return "127.0.0.1", port
		}
		return "::1", port
	}
	return host, port
}

// HostNote says, for a port with no QEMU back end (QEMUArgs is nil), what
// it is and how to use it, for the banner that would otherwise print QEMU
// flags; "" for every other port:
//
//	host interface l2h0 (02:8e:1f:6a:31:c0, 10.42.0.1/24): use it from the host
//	host interface l2h0 in netns lab (...): ip netns exec lab COMMAND
func (s Spec) HostNote() string {
	if s.Validate() != nil {
		return ""
	}
	if s.Transport == VXLAN {
		return vxlanNote(s)
	}
	if s.Transport != TAP {
		return ""
	}
	var details []string
	for _, k := range []string{"mac", "ip"} {
		if v := s.Options[k]; v != "" {
			details = append(details, v)
		}
	}
	note := "host interface " + s.Address
	ns := s.Options["netns"]
	if ns != "" {
		note += " in netns " + ns
	}
	if len(details) > 0 {
		note += " (" + strings.Join(details, ", ") + ")"
	}
	switch {
	case ns == "":
		return note + ": use it from the host"
	case strings.Contains(ns, "/"):
		return note + ": nsenter --net=" + ns + " COMMAND"
	}
	return note + ": ip netns exec " + ns + " COMMAND"
}

// AnyPort reports whether the hub binds s at port 0 (any free port), which
// is only known once it serves: no QEMU flags can be printed before.
func (s Spec) AnyPort() bool {
	if s.Transport != TCP && s.Transport != UDP {
		return false
	}
	_, port, err := net.SplitHostPort(s.Address)
	return err == nil && port == "0"
}

// vxlanNote says what a vxlan port reaches and what the VMs' MTU must be.
func vxlanNote(s Spec) string {
	mtu := defaultVXLANMTU
	if m, err := strconv.Atoi(s.Options["mtu"]); err == nil {
		mtu = m
	}
	peers := "VTEPs " + strings.Join(s.Options.Values("remote"), ", ")
	if g := s.Options["group"]; g != "" {
		peers = "the VTEPs of group " + g
	}
	return fmt.Sprintf("VXLAN VNI %s with %s; VMs on this segment need an MTU of at most %d (QEMU: -device virtio-net-pci,...,host_mtu=%d)",
		s.Options["vni"], peers, mtu-VXLANGuestMTUOverhead, mtu-VXLANGuestMTUOverhead)
}

// WithSegmentMTU returns specs with the MTU of each TAP device the hub
// opens without mtu= set to the smallest a VXLAN port of the same hub
// carries (its mtu, by default 1500, less VXLANGuestMTUOverhead), so
// that the host behind the TAP sends no frame the overlay cannot take;
// the notes say which ports got one. maxFrame is the hub's maximum frame
// (0 means DefaultMaxFrame): the MTU given is never more than its frames
// (MTU plus the Ethernet header) fit in, and when even tap.MinMTU would
// not fit, the TAP port keeps the device's own MTU. Without VXLAN ports it
// returns specs as they are. The specs' option maps are not changed:
// defaulted ones are copies. An MTU given here is a default, not asked
// for: a device its owner attaches without CAP_NET_ADMIN keeps its own
// (tap.TAPConfig.MTUIsDefault), with a warning.
func WithSegmentMTU(specs []Spec, maxFrame int) (out []Spec, notes []string) {
	inner, via := 0, ""
	for _, s := range specs {
		if s.Transport != VXLAN {
			continue
		}
		mtu := defaultVXLANMTU
		if m, err := strconv.Atoi(s.Options["mtu"]); err == nil {
			mtu = m
		}
		if g := mtu - VXLANGuestMTUOverhead; inner == 0 || g < inner {
			inner, via = g, s.Name
		}
	}
	if inner == 0 {
		return specs, nil
	}
	if maxFrame == 0 {
		maxFrame = DefaultMaxFrame
	}
	mtu, why := inner, fmt.Sprintf("what VXLAN port %s carries", via)
	if fit := maxFrame - hub.EthHeaderLen; fit < mtu {
		mtu, why = fit, fmt.Sprintf("less than VXLAN port %s carries (%d) so that its frames fit the maximum frame %d", via, inner, maxFrame)
	}
	if mtu < tap.MinMTU {
		return specs, nil
	}
	out = slices.Clone(specs)
	for i, s := range out {
		if s.Transport != TAP {
			continue
		}
		if _, given := s.Options["mtu"]; given {
			continue
		}
		opts := maps.Clone(s.Options)
		if opts == nil {
			opts = SpecOptions{}
		}
		opts["mtu"] = strconv.Itoa(mtu)
		out[i].Options = opts
		out[i].mtuImplied = true
		notes = append(notes, fmt.Sprintf("TAP port %s gets MTU %d, %s (mtu= on the TAP port chooses another)", s.Name, mtu, why))
	}
	return out, notes
}
