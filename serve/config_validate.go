package serve

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/control"
	"l2hub/hub"
	"l2hub/transport"
)

// Validating a Config whole, whatever it came from. validate checks each
// field and returns the first problem as a fieldError at its path
// (ports[1].address); ParseConfig turns the path into the file's line and
// column, Validate into the flag that set the field (recorded by setBy) or
// the config's source. The checks across ports, which foresee a port that
// could not bind, are in config_ports.go.

// fieldError is a validation failure at a field path (ports, 1, address).
type fieldError struct {
	path []string
	msg  string
}

func (e *fieldError) Error() string {
	if len(e.path) == 0 {
		return e.msg
	}
	return e.pathString() + ": " + e.msg
}

// pathString writes a path as the policy errors do: ports[1].address.
func (e *fieldError) pathString() string { return pathString(e.path) }

// pathString writes a field path (ports, 1, address) as ports[1].address.
func pathString(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func fieldErr(msg string, path ...string) error { return &fieldError{path: path, msg: msg} }

// Validate checks everything that can be checked without binding sockets;
// its error starts with Source, or with the flag that set the bad field
// ("--max-frame: 13 is outside ...", "--port a=tcp:...: port "a" is
// already defined in lab.yaml:2:5 (ports[0])").
func (c *Config) Validate() error {
	err := c.validate()
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		if flag, rest, ok := c.flagFor(fe.path); ok {
			return fmt.Errorf("%s: %w", flag, &fieldError{path: rest, msg: fe.msg})
		}
	}
	return fmt.Errorf("%s: %w", c.Source(), err)
}

// flagFor finds the flag that set the field at path, or the part of it
// that holds the field (a --port for ports[2].address), and the rest of the
// path below it, which names nothing the user wrote when it is a list
// index or a port's name: the flag's value says them.
func (c *Config) flagFor(path []string) (flag string, rest []string, ok bool) {
	for k := len(path); k > 0; k-- {
		if flag, ok = c.from[pathString(path[:k])]; ok {
			rest = path[k:]
			if len(rest) == 1 {
				if _, err := strconv.Atoi(rest[0]); err == nil || rest[0] == "name" {
					rest = nil
				}
			}
			return flag, rest, true
		}
	}
	return "", nil, false
}

// setBy records that flag set the field at path (a key of from).
func (c *Config) setBy(path, flag string) {
	if c.from == nil {
		c.from = make(map[string]string)
	}
	c.from[path] = flag
}

// definedAt says where port i, a duplicate of port j, was defined first,
// for "port "a" is already defined ...": a port of the same source is
// "as ports[j]"; when port i came from a flag, port j's flag or its
// place in the file is named.
func (c *Config) definedAt(i, j int) string {
	idx := fmt.Sprintf("ports[%d]", j)
	if _, ok := c.from[fmt.Sprintf("ports[%d]", i)]; !ok {
		return "as " + idx
	}
	if flag, ok := c.from[idx]; ok {
		return "by " + flag
	}
	if j < len(c.portAt) {
		return fmt.Sprintf("in %s (%s)", c.portAt[j], idx)
	}
	return fmt.Sprintf("in %s (%s)", c.Source(), idx)
}

// validate is Validate without the source, for ParseConfig, which names
// the line and column instead.
func (c *Config) validate() error {
	if c.Queue < 0 || c.Queue > 1<<20 {
		return fieldErr(fmt.Sprintf("%d is outside 1..%d (0 means the default %d)", c.Queue, 1<<20, hub.DefaultQueueLen), "queue")
	}
	if c.MaxFrame != 0 && (c.MaxFrame < transport.MinFrame || c.MaxFrame > transport.MaxFrameLimit) {
		return fieldErr(fmt.Sprintf("%d is outside %d..%d (0 means QEMU's limit, %d)", c.MaxFrame, transport.MinFrame, transport.MaxFrameLimit, hub.DefaultMaxFrame), "max_frame")
	}
	if c.Aging < 0 {
		return fieldErr("must not be negative", "aging")
	}
	if c.Stall < 0 {
		return fieldErr(fmt.Sprintf("must not be negative (0 means the default %s)", hub.DefaultStall), "stall")
	}
	if c.ControlToken != "" && c.ControlTokenFile != "" {
		return fieldErr("give control_token or control_token_file, not both", "control_token_file")
	}
	if err := CheckControlAddr(c.Control); err != nil {
		return fieldErr(err.Error(), "control")
	}
	if c.Metrics != "" {
		if _, _, err := control.ParseMetricsAddr(c.Metrics); err != nil {
			return fieldErr(fmt.Sprintf("%q: %v", c.Metrics, err), "metrics")
		}
	}
	if len(c.Ports) == 0 && len(c.Peers) == 0 {
		return fieldErr("no ports: a hub needs at least one (see l2hub serve --help)", "ports")
	}
	seen := make(map[string]int)
	// A role's short name ("a") is its full name: one role is one node
	// (one MAC, one address), on a port named after the full name.
	peers := make([]string, len(c.Peers))
	for i, name := range c.Peers {
		role, err := conformance.ParseRole(name)
		if err != nil {
			return fieldErr(fmt.Sprintf("%q: want node-a or node-b", name), "peers", strconv.Itoa(i))
		}
		peers[i] = role.String()
		if slices.Contains(peers[:i], peers[i]) {
			return fieldErr(fmt.Sprintf("%q: %s is already a peer", name, peers[i]), "peers", strconv.Itoa(i))
		}
	}
	if c.Peers != nil {
		c.Peers = peers
	}
	if c.Probe != "" {
		pr, ok := conformance.LookupProbe(c.Probe)
		switch {
		case !ok:
			return fieldErr(fmt.Sprintf("%q: no such probe (l2hub serve --help lists them)", c.Probe), "probe")
		case len(c.Peers) != 1 || c.Peers[0] != pr.Plays.String():
			return fieldErr(fmt.Sprintf("probe %q plays %s: give exactly that one peer", c.Probe, pr.Plays), "probe")
		}
	}
	for i, p := range c.Ports {
		idx := strconv.Itoa(i)
		if j, dup := seen[p.Name]; dup {
			return fieldErr(fmt.Sprintf("port %q is already defined %s", p.Name, c.definedAt(i, j)), "ports", idx, "name")
		}
		if slices.Contains(c.Peers, p.Name) {
			return fieldErr(fmt.Sprintf("port %q has the name of a virtual peer; rename it", p.Name), "ports", idx, "name")
		}
		seen[p.Name] = i
		if err := p.Validate(); err != nil {
			var se *transport.SpecError
			if errors.As(err, &se) {
				path := append([]string{"ports", idx}, strings.Split(se.Field, ".")...)
				return fieldErr(fmt.Sprintf("%q: %s", se.Value, se.Reason), path...)
			}
			return fieldErr(err.Error(), "ports", idx)
		}
	}
	if err := c.checkSharedVTEPs(); err != nil {
		return err
	}
	if err := c.checkSharedTAPs(); err != nil {
		return err
	}
	if err := c.checkSharedAddresses(); err != nil {
		return err
	}
	if err := c.checkPeersBound(); err != nil {
		return err
	}
	if c.Check != "" {
		if _, err := checker.ParseProfile(c.Check); err != nil {
			return fieldErr(fmt.Sprintf("%q: want nexus-v1 or noise-xk", c.Check), "check")
		}
	}
	switch c.Capture.Format {
	case "", "pcapng", "pcap":
	default:
		return fieldErr(fmt.Sprintf("%q: want pcapng or pcap", c.Capture.Format), "capture", "format")
	}
	switch c.Capture.Points {
	case "", "ingress", "egress", "both":
	default:
		return fieldErr(fmt.Sprintf("%q: want ingress, egress or both", c.Capture.Points), "capture", "points")
	}
	if c.Capture.File == capture.Stdout && (c.Capture.PerPort || c.Capture.RotateSize != 0 || c.Capture.RotateCount != 0) {
		return fieldErr(`"-" is standard output, one stream: not per port, not rotated`, "capture", "file")
	}
	if c.Capture.CloseTimeout < 0 {
		return fieldErr(fmt.Sprintf("%v must not be negative (0 means the default %v)", c.Capture.CloseTimeout, capture.DefaultCloseTimeout), "capture", "close_timeout")
	}
	for _, n := range []struct {
		key  string
		v    int64
		zero string // what 0 means
	}{
		{"snaplen", int64(c.Capture.Snaplen), fmt.Sprintf("the default, %d bytes", capture.DefaultSnaplen)},
		{"rotate_size", c.Capture.RotateSize, "no rotation by size"},
		{"rotate_count", int64(c.Capture.RotateCount), "no rotation by frames"},
	} {
		if n.v < 0 {
			return fieldErr(fmt.Sprintf("%d must not be negative (0 means %s)", n.v, n.zero), "capture", n.key)
		}
	}
	if c.Capture.File == "" {
		if key := c.Capture.optionGiven(); key != "" {
			return fieldErr("records nothing without a capture file: give --capture FILE (capture.file in a config), or leave it out", "capture", key)
		}
	}
	return nil
}

// optionGiven names the first capture option that is set (its key), or ""
// when none is: each says how to record, so without a file it would be
// ignored in silence.
func (c *CaptureConfig) optionGiven() string {
	for _, o := range []struct {
		key string
		set bool
	}{
		{"format", c.Format != ""},
		{"points", c.Points != ""},
		{"per_port", c.PerPort},
		{"snaplen", c.Snaplen != 0},
		{"rotate_size", c.RotateSize != 0},
		{"rotate_count", c.RotateCount != 0},
		{"close_timeout", c.CloseTimeout != 0},
	} {
		if o.set {
			return o.key
		}
	}
	return ""
}
