package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/internal/yamlfile"
	"l2hub/tap"
)

// Transport names how a port reaches its peer, and which side listens.
type Transport string

const (
	TCP      Transport = "tcp"       // hub listens; QEMU socket,connect= / stream,server=off
	TCPDial  Transport = "tcp-dial"  // hub dials and redials; QEMU socket,listen= / stream,server=on
	Unix     Transport = "unix"      // hub listens on a unix socket; QEMU stream,server=off,addr.type=unix
	UnixDial Transport = "unix-dial" // hub dials a unix socket; QEMU stream,server=on,addr.type=unix
	UDP      Transport = "udp"       // hub binds the VM's remote address, sends to peer=
	Unixgram Transport = "unixgram"  // unix datagram socket pair, sends to peer=
	Mcast    Transport = "mcast"     // hub joins QEMU's multicast group on local=
	TAP      Transport = "tap"       // host TAP device (Linux), optionally in a network namespace
	VXLAN    Transport = "vxlan"     // a VTEP on a VXLAN overlay (RFC 7348): the kernel's, Open vSwitch's, another hub's
)

// Transports lists every transport name in the order the help shows them.
func Transports() []Transport {
	return []Transport{TCP, TCPDial, Unix, UnixDial, UDP, Unixgram, Mcast, TAP, VXLAN}
}

// DefaultMcastLocal is the interface address a multicast port joins on when
// the spec names none: loopback, as QEMU's test harness uses.
const DefaultMcastLocal = "127.0.0.1"

// Spec is one port as the user writes it, on the command line as
// NAME=TRANSPORT:ADDRESS[,key=value...] (see ParseSpec) or as the same
// fields in the YAML config:
//
//	a=tcp:127.0.0.1:7001                        hub listens, the VM connects
//	b=tcp-dial:127.0.0.1:7002                   the VM listens, the hub dials
//	c=unix:/run/l2hub/c.sock                    as tcp, on a unix socket (file mode 0600)
//	c=unix:/run/l2hub/c.sock,mode=0660          the socket file's group may connect too
//	d=udp:127.0.0.1:7003,peer=127.0.0.1:7004    hub binds 7003, sends to the VM on 7004
//	e=unixgram:/run/l2hub/e.sock,peer=/run/vm/e.sock
//	m=mcast:230.0.0.1:37021,local=127.0.0.1     hub joins the VMs' multicast group
//	t=tap:tap0,ip=10.0.0.1/24,mac=02:00:00:00:00:01,netns=lab,mtu=1450
//	p=tcp:127.0.0.1:7005,overflow=drop,queue=64  tail-drop past 64 queued frames
//	u=udp:127.0.0.1:7006,peer=127.0.0.1:7007,sockbuf=16M
//	x=vxlan:10.0.0.1:4789,remote=10.0.0.2,remote=10.0.0.3,vni=42
//	g=vxlan:10.0.0.1:4789,group=239.1.1.1,vni=42,mtu=9000
//
// Values containing a comma write it doubled (",,"), as QEMU's options do.
type Spec struct {
	Name      string    `yaml:"name"`
	Transport Transport `yaml:"transport"`
	// Address is what the hub binds or dials: host:port, a socket path, the
	// multicast group:port, or the TAP device name.
	Address string `yaml:"address"`
	// Peer is where a datagram port sends (the VM's own bound address).
	Peer string `yaml:"peer,omitempty"`
	// Local is the interface address a multicast port joins on
	// (DefaultMcastLocal when empty).
	Local string `yaml:"local,omitempty"`
	// Options holds transport-specific keys (tap: ip, netns, mac, mtu; datagram
	// transports: sockbuf; unix, unixgram: mode; vxlan: remote, vni, group,
	// ttl, mtu, netns, silence) and every port's flow keys (overflow, queue).
	Options SpecOptions `yaml:"options,omitempty"`
	// mtuImplied says a tap port's mtu option is WithSegmentMTU's, not
	// the user's.
	mtuImplied bool
}

// SpecOptions are a port's key=value options. A multi-valued key (vxlan's
// remote) may be given several times, or as a YAML list; its values are
// kept space-separated (Values splits them).
type SpecOptions map[string]string

// multiValued lists the keys that may be given more than once.
var multiValued = map[string]bool{"remote": true}

// MultiValued reports whether key may be given more than once (a config
// loader checking a YAML list asks it).
func (SpecOptions) MultiValued(key string) bool { return multiValued[key] }

// Values returns key's values: one for an ordinary key, as many as given
// for a multi-valued one, none if absent.
func (o SpecOptions) Values(key string) []string { return strings.Fields(o[key]) }

// UnmarshalYAML reads a mapping of keys to scalars, or, for a multi-valued
// key, to a list of scalars. Its errors are *yamlfile.Error (matching
// ErrSpec) at the bad node's line and column, the path relative to the
// port ("options.remote[1]"), and no file: the caller knows it.
func (o *SpecOptions) UnmarshalYAML(n *yaml.Node) error {
	at := func(n *yaml.Node, path, format string, args ...any) error {
		return &yamlfile.Error{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...), Kind: ErrSpec}
	}
	if n.Kind != yaml.MappingNode {
		return at(n, "options", "want a mapping, got %s", yamlfile.KindName(n))
	}
	m := SpecOptions{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := yamlfile.JoinPath("options", k.Value)
		switch {
		case v.Kind == yaml.SequenceNode && multiValued[k.Value]:
			var vals []string
			for j, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return at(item, fmt.Sprintf("%s[%d]", path, j), "want a value, got %s", yamlfile.KindName(item))
				}
				vals = append(vals, item.Value)
			}
			m[k.Value] = strings.Join(vals, " ")
		case v.Kind == yaml.ScalarNode:
			m[k.Value] = v.Value
		default:
			return at(v, path, "want a value, got %s", yamlfile.KindName(v))
		}
	}
	*o = m
	return nil
}

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

// ParseSpec parses NAME=TRANSPORT:ADDRESS[,key=value...] and validates it.
// Keys are peer= (udp, unixgram), local= (mcast) and the transport's
// options (Transport.Options). Errors wrap ErrSpec; field errors are
// *SpecError.
func ParseSpec(text string) (Spec, error) {
	var s Spec
	name, rest, ok := strings.Cut(text, "=")
	if !ok {
		return s, fmt.Errorf("%w %q: want NAME=TRANSPORT:ADDRESS[,key=value...]", ErrSpec, text)
	}
	s.Name = name
	tr, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return s, fmt.Errorf("%w %q: want NAME=TRANSPORT:ADDRESS (transport one of %s)", ErrSpec, text, transportList())
	}
	s.Transport = Transport(tr)
	fields := splitOptions(rest)
	s.Address = fields[0]
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return s, fmt.Errorf("%w %q: option %q: want key=value", ErrSpec, text, f)
		}
		if seen[k] && !multiValued[k] {
			return s, fmt.Errorf("%w %q: option %q given twice", ErrSpec, text, k)
		}
		seen[k] = true
		switch k {
		case "peer":
			s.Peer = v
		case "local":
			s.Local = v
		default:
			if s.Options == nil {
				s.Options = SpecOptions{}
			}
			if prev, ok := s.Options[k]; ok {
				v = prev + " " + v
			}
			s.Options[k] = v
		}
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// splitOptions splits at single commas; ",," stands for a literal comma.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			cur.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == ',' {
			cur.WriteByte(',')
			i++
			continue
		}
		out = append(out, cur.String())
		cur.Reset()
	}
	return append(out, cur.String())
}

func escapeOption(v string) string { return strings.ReplaceAll(v, ",", ",,") }

func transportList() string {
	names := make([]string, 0, len(transportRules))
	for _, t := range Transports() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// String formats s in the syntax ParseSpec reads; ParseSpec(s.String())
// returns s for every valid s.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('=')
	b.WriteString(string(s.Transport))
	b.WriteByte(':')
	b.WriteString(escapeOption(s.Address))
	if s.Peer != "" {
		b.WriteString(",peer=" + escapeOption(s.Peer))
	}
	if s.Local != "" {
		b.WriteString(",local=" + escapeOption(s.Local))
	}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := []string{s.Options[k]}
		if multiValued[k] {
			vals = s.Options.Values(k)
		}
		for _, v := range vals {
			b.WriteString("," + k + "=" + escapeOption(v))
		}
	}
	return b.String()
}

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

// PortOptions returns the port's own flow settings (overflow=, queue=);
// zero values leave the hub's. A vxlan port is in its overlay's
// split-horizon group ("vxlan/VNI"): the hub never forwards between two
// ports of one overlay, which reach each other already. s must be valid.
func (s Spec) PortOptions() hub.PortOptions {
	var o hub.PortOptions
	if s.Transport == VXLAN {
		vni, _ := strconv.ParseUint(s.Options["vni"], 10, 32) // valid: Validate parsed it
		o.Horizon = "vxlan/" + strconv.FormatUint(vni, 10)    // vni=042 and vni=42 are one overlay
	}
	if v, ok := s.Options["overflow"]; ok {
		o.Overflow, _ = hub.ParseOverflow(v)
	}
	if v, ok := s.Options["queue"]; ok {
		o.QueueLen, _ = strconv.Atoi(v)
	}
	if v, ok := s.Options["stall"]; ok {
		o.Stall, _ = time.ParseDuration(v)
	}
	return o
}

// socketBuffer returns the sockbuf= size, 0 for the default.
// socketMode is the mode of the socket file a unix or unixgram port binds:
// its mode= option, or DefaultSocketMode.
func (s Spec) socketMode() fs.FileMode {
	if m, err := parseMode(s.Options["mode"]); err == nil {
		return m
	}
	return DefaultSocketMode
}

// parseMode parses permission bits written in octal, with or without a
// leading 0 or 0o: 0660, 660, 0o660. Nothing above 0777 (setuid, setgid,
// sticky) is a socket file's business.
func parseMode(v string) (fs.FileMode, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(v, "0o"), "0O")
	n, err := strconv.ParseUint(digits, 8, 32) // no sign, no '_'; "" is an error
	if err != nil {
		return 0, fmt.Errorf("mode %q: want octal digits", v)
	}
	if n > 0o777 {
		return 0, fmt.Errorf("mode %q: above 0777", v)
	}
	return fs.FileMode(n), nil
}

func (s Spec) socketBuffer() int {
	n, _ := parseSize(s.Options["sockbuf"])
	return n
}

// parseSize parses a byte count with an optional binary suffix: 65536,
// 512K, 4M, 1G.
func parseSize(v string) (int, error) {
	mult := 1
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'K', 'k':
			mult, v = 1<<10, v[:n-1]
		case 'M', 'm':
			mult, v = 1<<20, v[:n-1]
		case 'G', 'g':
			mult, v = 1<<30, v[:n-1]
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxSockbufOption/mult {
		return 0, fmt.Errorf("size %q: want a byte count such as 65536, 512K or 4M", v)
	}
	return n * mult, nil
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
