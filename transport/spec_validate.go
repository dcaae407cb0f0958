package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/tap"
)

// What a valid Spec holds: each transport's rules (the address and peer
// it takes, its options), Validate, which checks a spec against them and
// names the field to fix, and the checks of each kind of address and
// option value. ParseSpec (spec.go) validates what it parses.

// transportRules says what each transport's fields must hold.
var transportRules = map[Transport]struct {
	address addrKind
	peer    addrKind // addrNone: no peer allowed
	local   bool     // local= allowed
	options []string // allowed Options keys
}{
	TCP:      {address: listenHostPort, options: flowOptions},
	TCPDial:  {address: dialHostPort, options: flowOptions},
	Unix:     {address: socketPath, options: append([]string{"mode"}, flowOptions...)},
	UnixDial: {address: socketPath, options: flowOptions},
	UDP:      {address: listenHostPort, peer: dialHostPort, options: datagramOptions},
	Unixgram: {address: socketPath, peer: socketPath, options: append([]string{"mode"}, datagramOptions...)},
	Mcast:    {address: mcastGroup, local: true, options: datagramOptions},
	TAP:      {address: ifaceName, options: append([]string{"ip", "mac", "mtu", "netns"}, flowOptions...)},
	VXLAN:    {address: vtepAddr, options: append([]string{"remote", "vni", "group", "ttl", "mtu", "netns", "silence"}, datagramOptions...)},
}

// Options returns the option keys a port of transport t takes, besides
// peer= and local=: what the help lists for it. It is nil for an unknown
// transport.
func (t Transport) Options() []string { return slices.Clone(transportRules[t].options) }

// Options every port takes: its flow control (see hub.Overflow), which
// overrides the hub's for this port. Datagram ports also take the size of
// their socket buffers; the ports that bind a socket file (unix, unixgram)
// its mode.
var (
	flowOptions     = []string{"overflow", "queue", "stall"}
	datagramOptions = append([]string{"sockbuf"}, flowOptions...)
)

// Bounds of the queue= and sockbuf= options.
const (
	maxQueueOption   = 1 << 20
	minSockbufOption = 4 << 10
	maxSockbufOption = 1 << 30
)

type addrKind uint8

const (
	addrNone       addrKind = iota
	listenHostPort          // host:port, host may be empty (all), port may be 0 (any)
	dialHostPort            // host:port, both required
	socketPath              // a unix socket path
	mcastGroup              // IPv4 multicast group:port, port not 0
	ifaceName               // a network interface name
	vtepAddr                // an IP address and a port, both required
)

var portName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)

// Validate checks every field against the transport's rules. It resolves no
// names and binds nothing; Open does that.
func (s Spec) Validate() error {
	if !portName.MatchString(s.Name) {
		return &SpecError{Field: "name", Value: s.Name, Reason: "want 1-32 letters, digits, '-', '_' or '.', starting with a letter or digit"}
	}
	bad := func(field, value, reason string) error {
		return &SpecError{Port: s.Name, Field: field, Value: value, Reason: reason}
	}
	rules, ok := transportRules[s.Transport]
	if !ok {
		return bad("transport", string(s.Transport), "want one of "+transportList())
	}
	if err := checkAddr(rules.address, s.Address); err != "" {
		return bad("address", s.Address, err)
	}
	switch {
	case rules.peer == addrNone && s.Peer != "":
		return bad("peer", s.Peer, fmt.Sprintf("transport %s takes no peer", s.Transport))
	case rules.peer != addrNone && s.Peer == "":
		return bad("peer", s.Peer, fmt.Sprintf("transport %s needs peer= (the address the VM binds)", s.Transport))
	case rules.peer != addrNone:
		if err := checkAddr(rules.peer, s.Peer); err != "" {
			return bad("peer", s.Peer, err)
		}
	}
	if s.Transport == UDP {
		if isIPv6Host(s.Address) {
			return bad("address", s.Address, udpIPv4Only)
		}
		if isIPv6Host(s.Peer) {
			return bad("peer", s.Peer, udpIPv4Only)
		}
	}
	if s.Local != "" {
		if !rules.local {
			return bad("local", s.Local, fmt.Sprintf("transport %s takes no local", s.Transport))
		}
		a, err := netip.ParseAddr(s.Local)
		if err != nil || !a.Is4() || a.IsMulticast() || a.IsUnspecified() {
			return bad("local", s.Local, "want the IPv4 address of the interface to join on, such as 127.0.0.1")
		}
	}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := s.Options[k]
		if !slices.Contains(rules.options, k) {
			if len(rules.options) == 0 {
				return bad("options."+k, v, fmt.Sprintf("transport %s takes no option %q", s.Transport, k))
			}
			return bad("options."+k, v, fmt.Sprintf("unknown option for transport %s (want %s)", s.Transport, strings.Join(rules.options, ", ")))
		}
		if err := checkOption(s.Transport, k, v); err != "" {
			return bad("options."+k, v, err)
		}
	}
	if s.Transport == VXLAN {
		_, remote := s.Options["remote"]
		_, group := s.Options["group"]
		switch {
		case s.Options["vni"] == "":
			return bad("options.vni", "", "a vxlan port needs vni= (the overlay's network identifier, 0..16777215)")
		case !remote && !group:
			return bad("options.remote", "", "a vxlan port needs remote= (each VTEP, repeatable) or group= (a multicast group)")
		case remote && group:
			return bad("options.group", s.Options["group"], "a vxlan port takes remote= (each VTEP, repeatable) or group= (a multicast group), not both")
		}
		if reason := checkRemotes(s.Address, s.Options.Values("remote")); reason != "" {
			return bad("options.remote", s.Options["remote"], reason)
		}
	}
	return nil
}

// checkRemotes returns why a vxlan port on local (a valid vtepAddr) cannot
// have these remotes (each valid), or "": one VTEP given twice, as the
// same text or once without its port (a remote's port defaults to the
// local one), would get every flooded frame twice; the port's own address
// would send the hub its own datagrams back.
func checkRemotes(local string, remotes []string) string {
	l := netip.MustParseAddrPort(local)
	l = netip.AddrPortFrom(l.Addr().Unmap(), l.Port())
	first := map[netip.AddrPort]string{}
	for _, r := range remotes {
		ap, err := parseVTEP(r, l.Port())
		if err != nil {
			continue // checkOption said so
		}
		if ap == l {
			how := ""
			if r != ap.String() {
				how = " (a remote without a port has the local one)"
			}
			return fmt.Sprintf("remote %s is this port's own address %s%s: the hub would send its flooded frames to itself; give only the other VTEPs", r, l, how)
		}
		switch prev, dup := first[ap]; {
		case dup && prev == r:
			return fmt.Sprintf("remote %s is given twice: that VTEP would get every flooded frame twice", r)
		case dup:
			return fmt.Sprintf("remotes %s and %s are one VTEP, %s (a remote without a port has the local one): it would get every flooded frame twice", prev, r, ap)
		}
		first[ap] = r
	}
	return ""
}

// udpIPv4Only is why a udp port refuses an IPv6 address: QEMU's dgram and
// socket,udp= back ends parse both ends IPv4-only (net.c's
// convert_host_port: inet_aton, gethostbyname), so no QEMU could be its peer.
const udpIPv4Only = "QEMU's dgram back end takes IPv4 addresses only; use an IPv4 address, or tcp:[::1]:PORT (QEMU's stream back end takes IPv6)"

// isIPv6Host reports whether the host of host:port a is an IPv6 address
// (the wildcard [::] and IPv4-mapped ones included).
func isIPv6Host(a string) bool {
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Is6()
}

// checkAddr returns why a is not a valid address of kind k, or "".
func checkAddr(k addrKind, a string) string {
	switch k {
	case listenHostPort, dialHostPort:
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return "want host:port, such as 127.0.0.1:7001"
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "port must be a number from 0 to 65535"
		}
		if k == dialHostPort {
			if host == "" {
				return "a host is needed"
			}
			if p == 0 {
				return "port 0 cannot be dialed"
			}
		}
		if host != "" && !validHost(host) {
			return "host must be an IP address or a host name"
		}
	case socketPath:
		switch {
		case a == "":
			return "a socket path is needed"
		case strings.HasPrefix(a, "@"):
			return "abstract unix sockets are not supported; use a path"
		case strings.ContainsRune(a, 0):
			return "a path cannot contain NUL"
		case len(a) > unixpath.MaxLen:
			return fmt.Sprintf("unix socket paths are limited to %d bytes", unixpath.MaxLen)
		}
	case mcastGroup:
		g, err := netip.ParseAddrPort(a)
		if err != nil || !g.Addr().Is4() || !g.Addr().IsMulticast() {
			return "want an IPv4 multicast group and port, such as 230.0.0.1:37021"
		}
		if g.Port() == 0 {
			// Every member binds and sends to the group's port: with 0 each
			// would bind its own ephemeral port and send to G:0.
			return "a multicast group needs its port, which every member shares, such as 230.0.0.1:37021"
		}
	case vtepAddr:
		ap, err := netip.ParseAddrPort(a)
		if err != nil || ap.Port() == 0 || ap.Addr().Is6() && !ap.Addr().Is4In6() {
			return "want the local IPv4 address and UDP port, such as 10.0.0.1:4789"
		}
		if err := checkLocalVTEP(ap.Addr().Unmap()); err != nil {
			return err.Error()
		}
	case ifaceName:
		if err := tap.CheckName(a); err != nil {
			return err.Error()
		}
	}
	return ""
}

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func checkOption(t Transport, k, v string) string {
	switch k {
	case "overflow":
		if _, err := hub.ParseOverflow(v); err != nil {
			return "want pause (hold the frame and pause its sender, the default) or drop (tail drop)"
		}
	case "queue":
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxQueueOption {
			return fmt.Sprintf("want a queue length in frames, 1..%d", maxQueueOption)
		}
	case "stall":
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return "want the port's own stall time, a positive duration such as 30s (default: the hub's stall)"
		}
	case "remote":
		if len(strings.Fields(v)) == 0 {
			return "want a VTEP address, such as 10.0.0.2 or 10.0.0.2:4789"
		}
		rs := strings.Fields(v)
		for _, r := range rs {
			_, err := parseVTEP(r, 4789)
			for _, why := range vtepRefusals {
				if errors.Is(err, why) {
					if len(rs) == 1 {
						return why.Error() // the error quotes the value already
					}
					return fmt.Sprintf("remote %s: %v", r, why)
				}
			}
			if err != nil {
				return "want a VTEP's IPv4 address, optionally with a port: 10.0.0.2 or 10.0.0.2:4789"
			}
		}
	case "vni":
		if n, err := strconv.ParseUint(v, 10, 32); err != nil || n > maxVNI {
			return "want a VXLAN network identifier, 0..16777215"
		}
	case "group":
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() || !a.IsMulticast() {
			return "want an IPv4 multicast group, such as 239.1.1.1"
		}
	case "ttl":
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 255 {
			return "want the outer IP time to live, 1..255 (the kernel's vxlan ttl; default 1 for a group, 64 otherwise)"
		}
	case "mtu":
		if n, err := strconv.Atoi(v); t == TAP && (err != nil || n < tap.MinMTU || n > tap.MaxMTU) {
			return fmt.Sprintf("want the device's MTU, %d..%d (the largest a TAP device takes; a segment with a VXLAN port on a 1500-byte underlay needs 1450 at most)", tap.MinMTU, tap.MaxMTU)
		} else if t != TAP && (err != nil || n < minVXLANMTU || n > maxVXLANMTU) {
			return fmt.Sprintf("want the underlay's MTU, %d..%d", minVXLANMTU, maxVXLANMTU)
		}
	case "silence":
		if d, err := time.ParseDuration(v); v != "off" && (err != nil || d <= 0) {
			return "want how long a remote VTEP that was heard may send nothing before it is logged, a positive duration such as 30s (the default), or off"
		}
	case "mode":
		if _, err := parseMode(v); err != nil {
			return "want the socket file's permissions in octal, 0..0777, such as 0660 (default 0600: the hub's user only)"
		}
	case "sockbuf":
		if n, err := parseSize(v); err != nil || n < minSockbufOption || n > maxSockbufOption {
			return "want a socket buffer size from 4K to 1G, such as 4M"
		}
	case "ip":
		if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is4() {
			return "want an IPv4 address with prefix length, such as 10.0.0.1/24"
		}
	case "mac":
		if hw, err := net.ParseMAC(v); err != nil || len(hw) != 6 {
			return "want a MAC address, such as 02:00:00:00:00:01"
		} else if hw[0]&1 != 0 || hw.String() == "00:00:00:00:00:00" {
			return "want a unicast MAC address, such as 02:00:00:00:00:01"
		}
	case "netns":
		if v == "" || v == "." || v == ".." || strings.ContainsRune(v, 0) {
			return "want a network namespace name or path"
		}
	}
	return ""
}
