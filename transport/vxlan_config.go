package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"l2hub/hub"
)

// What a vxlan port is told: VXLANConfig, the VTEP addresses it takes
// (parseVTEP, and the refusals of an address that is no one VTEP, which
// Spec.Validate shares), and vxlanConfigOf, which builds a config from a
// port's spec. OpenVXLAN (vxlan.go) checks a config and binds it.

// parseVTEP's refusals of an address that is no one VTEP, the same with
// or without a port: each says what to give instead.
var (
	// 255.255.255.255: a socket may not send to it without SO_BROADCAST,
	// so every flood would fail.
	errBroadcastVTEP = errors.New("the broadcast address is no VTEP (use group= for a multicast overlay)")
	// A group: its members' unicast replies come from their own
	// addresses, which no remote= names, and are dropped (foreign-source).
	errMulticastVTEP = errors.New("a multicast address is no VTEP: for a multicast overlay give it as group= instead of remote=")
	// 0.0.0.0: the datagrams would go to this host, to the port itself.
	errUnspecifiedVTEP = errors.New("the unspecified address is no VTEP (a datagram sent there comes back to this host): give the remote VTEP's own address")
)

// vtepRefusals are parseVTEP's errors that say what to fix, as opposed to
// text that is no address at all.
var vtepRefusals = []error{errBroadcastVTEP, errMulticastVTEP, errUnspecifiedVTEP}

// parseVTEP parses "IP" or "IP:PORT" (port defaulting to def), an IPv4
// unicast address (an IPv4-mapped one is unmapped).
func parseVTEP(s string, def uint16) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err == nil {
		if ap.Port() == 0 || !ap.Addr().Unmap().Is4() {
			return netip.AddrPort{}, fmt.Errorf("vtep %q: want an IPv4 address and a port", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Unmap().Is4() {
			return netip.AddrPort{}, fmt.Errorf("vtep %q: want an IPv4 address", s)
		}
		ap = netip.AddrPortFrom(a, def)
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if err := checkRemoteVTEP(ap.Addr()); err != nil {
		return netip.AddrPort{}, fmt.Errorf("vtep %q: %w", s, err)
	}
	return ap, nil
}

// checkRemoteVTEP returns why IPv4 address a cannot be a remote VTEP (one
// of vtepRefusals), or nil.
func checkRemoteVTEP(a netip.Addr) error {
	switch {
	case a.IsMulticast():
		return errMulticastVTEP
	case a.IsUnspecified():
		return errUnspecifiedVTEP
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errBroadcastVTEP
	}
	return nil
}

// checkLocalVTEP returns why IPv4 address a cannot be a port's local
// address, or nil: a socket bound to a group's address (or the broadcast
// address) sends from it, which no VTEP takes as a source, and, having
// joined nothing, receives nothing.
func checkLocalVTEP(a netip.Addr) error {
	switch {
	case a.IsMulticast():
		return errors.New("a multicast address is no local address: bind this host's own address (or 0.0.0.0) and give the group as group=")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address is no local address: bind this host's own address (or 0.0.0.0)")
	}
	return nil
}

// VXLANConfig configures a VXLANConn.
type VXLANConfig struct {
	// Local is the address and UDP port the VTEP binds (the remotes send
	// to it). Every datagram leaves from it, not from the per-flow source
	// port RFC 7348 §5 recommends for the underlay's ECMP and RSS (README).
	Local netip.AddrPort
	VNI   uint32
	// Remotes are the other VTEPs: broadcast, multicast and unknown
	// unicast go to each (head-end replication), and only datagrams from
	// them are accepted. Ports default to Local's. Several may share an
	// IP (hubs on one host): a datagram is then told to be a remote's by
	// its source port.
	Remotes []netip.AddrPort
	// Group, instead of Remotes, is an IPv4 multicast group every VTEP of
	// the overlay joins, as the kernel's `vxlan ... group` does: flooded
	// frames go to it, and any sender is read (the socket takes its UDP
	// port on every address, so not only the group's members reach it).
	Group netip.Addr
	// TTL, when not 0, is the outer IP time to live, unicast and
	// multicast (the kernel's vxlan ttl). 0 leaves the system's: 1 for a
	// group's datagrams, which then stay on their link.
	TTL int
	// MTU is the underlay's; inner frames longer than MTU-36 bytes are
	// refused (counted), never fragmented. 0 means 1500.
	MTU int
	// Netns, if set, is the network namespace (name or path) to bind in.
	// It must exist: unlike a TAP device's, it is never created.
	Netns string
	// SocketBuffer sizes the socket's buffers (0: DefaultSocketBuffer).
	SocketBuffer int
	// Clock is what the learning table ages on and remotes' silence is
	// timed by; nil: the wall clock.
	Clock hub.Clock
	// Aging is how long the port remembers the VTEP a MAC was seen behind
	// without a frame from it: the hub's aging time (serve --aging). 0
	// means hub.DefaultAgingTime.
	Aging time.Duration
	// Silence is how long a remote VTEP that has sent something may then
	// send nothing before the port logs it, once ("remote VTEP 10.0.0.2:
	// nothing heard for 30s"), and again when it is heard from. A quiet
	// remote is normal when its side has nothing to send (though a kernel
	// VTEP or an OVS bridge with hosts on it seldom stays quiet for long);
	// it is also what a remote that has gone away looks like, since its
	// ICMP errors are not reported (see send). 0 means
	// DefaultVXLANSilence; negative, never. Only remotes are watched, not
	// a group's members.
	Silence time.Duration
	// Logger receives those lines; nil discards.
	Logger *slog.Logger

	// port, set for a port opened from a Spec, names it to the tap ports
	// of this process (mtuPeers).
	port string
}

// vxlanConfigOf builds a VXLANConfig from a valid vxlan spec.
func vxlanConfigOf(s Spec, opts Options) (VXLANConfig, error) {
	local, err := netip.ParseAddrPort(s.Address)
	if err != nil {
		return VXLANConfig{}, err
	}
	cfg := VXLANConfig{
		Local:        netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		Netns:        s.Options["netns"],
		SocketBuffer: s.socketBuffer(),
		Clock:        opts.Clock,
		Aging:        opts.Aging,
		Logger:       opts.Logger,
		port:         s.Name,
	}
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("port", s.Name, "transport", string(s.Transport))
	}
	switch q := s.Options["silence"]; q {
	case "":
	case "off":
		cfg.Silence = -1
	default:
		cfg.Silence, _ = time.ParseDuration(q)
	}
	vni, _ := strconv.ParseUint(s.Options["vni"], 10, 32)
	cfg.VNI = uint32(vni)
	for _, r := range s.Options.Values("remote") {
		ap, err := parseVTEP(r, local.Port())
		if err != nil {
			return cfg, err
		}
		cfg.Remotes = append(cfg.Remotes, ap)
	}
	if g, ok := s.Options["group"]; ok {
		cfg.Group = netip.MustParseAddr(g)
	}
	if m, ok := s.Options["mtu"]; ok {
		cfg.MTU, _ = strconv.Atoi(m)
	}
	if t, ok := s.Options["ttl"]; ok {
		cfg.TTL, _ = strconv.Atoi(t)
	}
	return cfg, nil
}
