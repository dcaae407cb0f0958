package transport

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/hub"
	"l2hub/internal/yamlfile"
)

// A port as the user writes it: Spec and its options, ParseSpec and String
// (NAME=TRANSPORT:ADDRESS[,key=value...]), and the settings a runner reads
// from a valid spec (PortOptions, the socket file's mode, the socket
// buffer). spec_validate.go says what a valid spec holds, spec_qemu.go
// what a spec tells a VM and the user.

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

// socketBuffer returns the sockbuf= size, 0 for the default.
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
