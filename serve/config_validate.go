package serve

import (
	"cmp"
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
	"l2hub/internal/yamlfile"
	"l2hub/transport"
)

// Validating a Config whole, whatever it came from. validate checks each
// field on its own (checkFields), then what the fields say together
// (checkAcross: a hub with no ports, a probe and its peer, two ports of one
// name or address, a capture option and the capture file), and returns
// every problem it finds, each a fieldError at its path
// (ports[1].address). Validate blames each on the flag that set the field
// (recorded by setBy), or on the line and column of the file it came from,
// or on the config's source. A config file is read without validate
// (parseConfig) when flags are merged into it: the flags may give what the
// file leaves out (--port, --peer, --capture), so the checks run once, on
// the merged config. The checks across ports, which foresee a port that
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

// problems collects validate's findings, at most one per field: a later
// check that finds a field wrong again (a port's name that is both bad and
// taken, a probe that is unknown and so plays no peer) would only repeat it.
type problems []*fieldError

// add records err, a *fieldError, unless its field has a problem already.
func (ps *problems) add(err error) {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return
	}
	for _, p := range *ps {
		if slices.Equal(p.path, fe.path) {
			return
		}
	}
	*ps = append(*ps, fe)
}

// under reports whether a field at or under path has a problem: a check
// across fields leaves alone what it would only misjudge.
func (ps problems) under(path ...string) bool {
	return slices.ContainsFunc(ps, func(p *fieldError) bool {
		return len(p.path) >= len(path) && slices.Equal(p.path[:len(path)], path)
	})
}

// Validate checks everything that can be checked without binding sockets,
// and returns every problem, one a line: each starts with the flag that set
// the bad field ("--max-frame: 13 is outside ...", "--port a=tcp:...: port
// "a" is already defined in lab.yaml:2:5 (ports[0])"), or with the file's
// line and column ("lab.yaml:1:8: queue: ..."), or with Source. The
// flags' come first, then the file's in file order.
func (c *Config) Validate() error {
	ps := c.validate()
	if len(ps) == 0 {
		return nil
	}
	var flagged []error
	var placed yamlfile.List
	for _, fe := range ps {
		switch flag, rest, ok := c.flagFor(fe.path); {
		case ok:
			flagged = append(flagged, fmt.Errorf("%s: %w", flag, &fieldError{path: rest, msg: fe.msg}))
		case c.node != nil:
			// Where the file leaves the field out (no ports: at all), the
			// place of what holds it.
			n := yamlfile.Lookup(c.node, fe.path...)
			placed = append(placed, &yamlfile.Error{File: c.source, Line: n.Line, Column: n.Column, Path: fe.pathString(), Msg: fe.msg})
		default:
			flagged = append(flagged, fmt.Errorf("%s: %w", c.Source(), fe))
		}
	}
	slices.SortStableFunc(placed, func(a, b *yamlfile.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	switch {
	case len(flagged) == 0:
		return placed
	case len(placed) > 0:
		flagged = append(flagged, placed)
	}
	return errors.Join(flagged...)
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

// blame prefixes err, found in the field at path once the config is
// validated (a control address that cannot bind, a token file that cannot
// be read), with what set the field, as Validate does: its flag
// ("--control: ..."), or its line and column in the file ("lab.yaml:3:10:
// control: ..."); with neither (a default, or code), the field's name.
func (c *Config) blame(err error, path ...string) error {
	if flag, rest, ok := c.flagFor(path); ok {
		if len(rest) > 0 {
			return fmt.Errorf("%s: %s: %w", flag, pathString(rest), err)
		}
		return fmt.Errorf("%s: %w", flag, err)
	}
	if at := c.placeOf(path...); at != "" {
		return fmt.Errorf("%s: %s: %w", at, pathString(path), err)
	}
	return fmt.Errorf("%s: %w", pathString(path), err)
}

// placeOf is "file:line:col" of the field at path when the file gives it,
// else "".
func (c *Config) placeOf(path ...string) string {
	if c.node == nil || len(path) == 0 {
		return ""
	}
	// Lookup stops at the deepest node it reaches: the field's parent
	// when the file leaves the field out.
	n := yamlfile.Lookup(c.node, path...)
	if n == yamlfile.Lookup(c.node, path[:len(path)-1]...) || n.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", c.source, n.Line, n.Column)
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

// validate checks c whole and returns every problem, in the order found.
func (c *Config) validate() problems {
	var ps problems
	c.checkFields(&ps)
	c.checkAcross(&ps)
	return ps
}

// checkFields checks each field on its own: what no other field, and no
// flag merged later, can make right.
func (c *Config) checkFields(ps *problems) {
	if c.Queue < 0 || c.Queue > 1<<20 {
		ps.add(fieldErr(fmt.Sprintf("%d is outside 1..%d (0 means the default %d)", c.Queue, 1<<20, hub.DefaultQueueLen), "queue"))
	}
	if c.MaxFrame != 0 && (c.MaxFrame < transport.MinFrame || c.MaxFrame > transport.MaxFrameLimit) {
		ps.add(fieldErr(fmt.Sprintf("%d is outside %d..%d (0 means QEMU's limit, %d)", c.MaxFrame, transport.MinFrame, transport.MaxFrameLimit, hub.DefaultMaxFrame), "max_frame"))
	}
	if c.Aging < 0 {
		ps.add(fieldErr(fmt.Sprintf("must not be negative (0 means the default %s)", hub.DefaultAgingTime), "aging"))
	}
	if c.Stall < 0 {
		ps.add(fieldErr(fmt.Sprintf("must not be negative (0 means the default %s)", hub.DefaultStall), "stall"))
	}
	if c.ControlToken != "" && c.ControlTokenFile != "" {
		ps.add(fieldErr("give control_token or control_token_file, not both", "control_token_file"))
	}
	if err := CheckControlAddr(c.Control); err != nil {
		ps.add(fieldErr(err.Error(), "control"))
	}
	if c.Metrics != "" {
		if _, _, err := control.ParseMetricsAddr(c.Metrics); err != nil {
			ps.add(fieldErr(fmt.Sprintf("%q: %v", c.Metrics, err), "metrics"))
		}
	}
	// A role's short name ("a") is its full name: one role is one node
	// (one MAC, one address), on a port named after the full name.
	peers := make([]string, len(c.Peers))
	for i, name := range c.Peers {
		role, err := conformance.ParseRole(name)
		if err != nil {
			ps.add(fieldErr(fmt.Sprintf("%q: want node-a or node-b", name), "peers", strconv.Itoa(i)))
			continue
		}
		peers[i] = role.String()
		if slices.Contains(peers[:i], peers[i]) {
			ps.add(fieldErr(fmt.Sprintf("%q: %s is already a peer", name, peers[i]), "peers", strconv.Itoa(i)))
		}
	}
	if c.Peers != nil && !ps.under("peers") {
		c.Peers = peers
	}
	if _, ok := conformance.LookupProbe(c.Probe); c.Probe != "" && !ok {
		ps.add(fieldErr(fmt.Sprintf("%q: no such probe (l2hub serve --help lists them)", c.Probe), "probe"))
	}
	for i, p := range c.Ports {
		idx := strconv.Itoa(i)
		if err := p.Validate(); err != nil {
			var se *transport.SpecError
			if errors.As(err, &se) {
				path := append([]string{"ports", idx}, strings.Split(se.Field, ".")...)
				ps.add(fieldErr(fmt.Sprintf("%q: %s", se.Value, se.Reason), path...))
				continue
			}
			ps.add(fieldErr(err.Error(), "ports", idx))
		}
	}
	if c.Check != "" {
		if _, err := checker.ParseProfile(c.Check); err != nil {
			ps.add(fieldErr(fmt.Sprintf("%q: want nexus-v1 or noise-xk", c.Check), "check"))
		}
	}
	switch c.Capture.Format {
	case "", "pcapng", "pcap":
	default:
		ps.add(fieldErr(fmt.Sprintf("%q: want pcapng or pcap", c.Capture.Format), "capture", "format"))
	}
	switch c.Capture.Points {
	case "", "ingress", "egress", "both":
	default:
		ps.add(fieldErr(fmt.Sprintf("%q: want ingress, egress or both", c.Capture.Points), "capture", "points"))
	}
	if c.Capture.CloseTimeout < 0 {
		ps.add(fieldErr(fmt.Sprintf("%v must not be negative (0 means the default %v)", c.Capture.CloseTimeout, capture.DefaultCloseTimeout), "capture", "close_timeout"))
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
			ps.add(fieldErr(fmt.Sprintf("%d must not be negative (0 means %s)", n.v, n.zero), "capture", n.key))
		}
	}
	if c.Capture.Snaplen > capture.MaxSnaplen {
		ps.add(fieldErr(fmt.Sprintf("%d is outside 0..%d (0 means the default, %d bytes)", c.Capture.Snaplen, capture.MaxSnaplen, capture.DefaultSnaplen), "capture", "snaplen"))
	}
}

// checkAcross checks what fields say together, which flags merged into a
// config file may settle (--port giving the ports, --capture the file a
// capture option needs). It leaves alone a field checkFields found wrong.
func (c *Config) checkAcross(ps *problems) {
	if len(c.Ports) == 0 && len(c.Peers) == 0 {
		ps.add(fieldErr("no ports: a hub needs at least one (see l2hub serve --help)", "ports"))
	}
	if pr, ok := conformance.LookupProbe(c.Probe); ok && !ps.under("peers") &&
		(len(c.Peers) != 1 || c.Peers[0] != pr.Plays.String()) {
		ps.add(fieldErr(fmt.Sprintf("probe %q plays %s: give exactly that one peer", c.Probe, pr.Plays), "probe"))
	}
	portsOK := !ps.under("ports")
	seen := make(map[string]int)
	for i, p := range c.Ports {
		idx := strconv.Itoa(i)
		if j, dup := seen[p.Name]; dup {
			ps.add(fieldErr(fmt.Sprintf("port %q is already defined %s", p.Name, c.definedAt(i, j)), "ports", idx, "name"))
			continue
		}
		if !ps.under("peers") && slices.Contains(c.Peers, p.Name) {
			ps.add(fieldErr(fmt.Sprintf("port %q has the name of a virtual peer; rename it", p.Name), "ports", idx, "name"))
		}
		seen[p.Name] = i
	}
	if portsOK {
		// Each foresees a bind that would fail, among ports that could
		// each bind on their own.
		ps.add(c.checkSharedVTEPs())
		ps.add(c.checkSharedTAPs())
		ps.add(c.checkSharedAddresses())
		ps.add(c.checkPeersBound())
	}
	if c.Capture.File == capture.Stdout && (c.Capture.PerPort || c.Capture.RotateSize != 0 || c.Capture.RotateCount != 0) {
		name := cmp.Or(c.Capture.given, capture.Stdout)
		ps.add(fieldErr(fmt.Sprintf("%q is standard output, one stream: not per port, not rotated", name), "capture", "file"))
	}
	if c.Capture.File == "" {
		if key := c.Capture.optionGiven(); key != "" {
			ps.add(fieldErr("records nothing without a capture file: give --capture FILE (capture.file in a config), or leave it out", "capture", key))
		}
	}
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
