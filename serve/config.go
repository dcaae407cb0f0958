package serve

import (
	"bytes"
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/internal/yamlfile"
	"l2hub/tap"
	"l2hub/transport"
)

// maxConfigBytes bounds a config file; a real one is a few hundred bytes.
const maxConfigBytes = 1 << 20

// Config is everything a Session needs, from a YAML file (LoadConfig),
// flags, code, or a mix (the command's flags win over the file and --port
// adds ports). Validate checks it whole.
type Config struct {
	Mode             hub.Mode         `yaml:"mode"`
	Queue            int              `yaml:"queue"`
	Overflow         hub.Overflow     `yaml:"overflow"` // pause (default) or drop
	Stall            time.Duration    `yaml:"stall"`
	MaxFrame         int              `yaml:"max_frame"`
	Aging            time.Duration    `yaml:"aging"`
	Control          string           `yaml:"control"`
	ControlToken     string           `yaml:"control_token"`      // prefer ControlTokenFile: a config file is often readable
	ControlTokenFile string           `yaml:"control_token_file"` // relative to the config file; mode 0600
	Metrics          string           `yaml:"metrics"`            // GET /metrics alone, on tcp:HOST:PORT; "" for none
	MetricsTokenFile string           `yaml:"metrics_token_file"` // the metrics endpoint's own token, never the control one; relative to the config file; mode 0600
	MetricsToken     string           `yaml:"-"`                  // that token itself ($L2HUB_METRICS_TOKEN, or code), over MetricsTokenFile; no key: a config is often readable
	Policy           string           `yaml:"policy"`             // policy file, relative to the config file
	Capture          CaptureConfig    `yaml:"capture"`
	Check            string           `yaml:"check"`    // live conformance profile, e.g. nexus-v1
	Peers            []string         `yaml:"peers"`    // virtual DSoftBus nodes to attach: node-a, node-b (a, b: named in full once validated)
	Probe            string           `yaml:"probe"`    // a hostile variant for the (single) virtual node
	Optional         bool             `yaml:"optional"` // start even if a port cannot be opened (it stays down)
	Ports            []transport.Spec `yaml:"ports"`
	// Faults are quick-test fault flags (l2hub serve --loss ...), compiled
	// after the policy file's rules; nil or empty adds none.
	Faults *filter.Flags `yaml:"-"`

	source   string            // the file it came from, for messages
	where    map[string]string // port name -> "file:line:col" of its address, for bind errors
	policyAt string            // "file:line:col" of the policy key, for a policy file that cannot be read
	portAt   []string          // "file:line:col" of each of the file's own ports (its name), for duplicates
	// The token files flags named (--control-token-file,
	// --metrics-token-file), read already: inputs the run must not
	// write over.
	tokenFile, metricsTokenFile string
	// tokenFrom and metricsTokenFrom name the flag or variable that gave
	// a token ("$L2HUB_CONTROL_TOKEN", "--control-token-file F"), for
	// messages; "" when it is the config's (TokenFrom says which key).
	tokenFrom, metricsTokenFrom string
	// from names the flag that set a field, by its path ("max_frame":
	// "--max-frame", "ports[2]": "--port a=tcp:127.0.0.1:7001"), so that
	// Validate blames what the user wrote, not a file key it did not.
	from map[string]string
}

// CaptureConfig says what to record and where.
type CaptureConfig struct {
	File        string `yaml:"file"`         // relative to the working directory
	Format      string `yaml:"format"`       // pcapng (default) or pcap
	Points      string `yaml:"points"`       // ingress, egress or both (default)
	PerPort     bool   `yaml:"per_port"`     // one file per port, like QEMU's filter-dump
	Snaplen     int    `yaml:"snaplen"`      // bytes kept per frame, 0 = capture.DefaultSnaplen
	RotateSize  int64  `yaml:"rotate_size"`  // start a new file after this many bytes
	RotateCount int    `yaml:"rotate_count"` // ... or after this many frames
	// CloseTimeout bounds how long the capture's close at exit waits for
	// a file or stream that takes nothing, such as a pipe whose reader
	// stopped reading (0 means capture.DefaultCloseTimeout).
	CloseTimeout time.Duration `yaml:"close_timeout"`
}

// DefaultConfig is what `l2hub` with no arguments serves: a learning
// switch with ports a and b listening on 127.0.0.1:7001 and :7002.
func DefaultConfig() Config {
	return Config{
		Mode: hub.ModeSwitch,
		Ports: []transport.Spec{
			{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:7001"},
			{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:7002"},
		},
	}
}

// LoadConfig reads and validates a config file. Every error names the file,
// the line and column, and the field: "lab.yaml:7:14: ports[1].address: ...".
// Relative policy and token file names are taken relative to the file.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return Config{}, fmt.Errorf("%s: larger than %d bytes; is this a config file?", path, maxConfigBytes)
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return Config{}, err
	}
	if cfg.Policy != "" && !filepath.IsAbs(cfg.Policy) {
		cfg.Policy = filepath.Join(filepath.Dir(path), cfg.Policy)
	}
	if cfg.ControlTokenFile != "" && !filepath.IsAbs(cfg.ControlTokenFile) {
		cfg.ControlTokenFile = filepath.Join(filepath.Dir(path), cfg.ControlTokenFile)
	}
	if cfg.MetricsTokenFile != "" && !filepath.IsAbs(cfg.MetricsTokenFile) {
		cfg.MetricsTokenFile = filepath.Join(filepath.Dir(path), cfg.MetricsTokenFile)
	}
	return cfg, nil
}

// Source is where the config came from, for messages: its file, or "flags".
func (c *Config) Source() string {
	if c.source == "" {
		return "flags"
	}
	return c.source
}

// SetPolicyFile replaces the policy file (l2hub serve --policy): the
// config's own, which then need not exist, is forgotten.
func (c *Config) SetPolicyFile(path string) { c.Policy, c.policyAt = path, "" }

// CheckPolicyFile checks that the policy file a config names can be read,
// so that its absence is reported at the config's line, not as a bare
// file name. A policy from --policy has no such line.
func (c *Config) CheckPolicyFile() error {
	if c.Policy == "" || c.policyAt == "" {
		return nil
	}
	f, err := os.Open(c.Policy)
	if err != nil {
		return fmt.Errorf("%s: policy: %w", c.policyAt, err)
	}
	return f.Close()
}

// ReadTokens reads the token files the config names (control_token_file,
// metrics_token_file) into ControlToken and MetricsToken, once: a run that
// asks for a token twice (the control API, then the metrics endpoint's
// check that its token is another) must not read a FIFO twice, and a file
// that blocks (a FIFO no one writes) must not outlast ctx (the first
// Ctrl-C). Run calls it; so must a caller of New that serves the control
// API or metrics, before New.
func (c *Config) ReadTokens(ctx context.Context) error {
	if c.ControlTokenFile != "" {
		tok, err := control.ReadContext(ctx, c.Token)
		if err != nil {
			return err
		}
		c.tokenFrom = c.key("control_token_file " + c.ControlTokenFile)
		c.ControlToken, c.tokenFile, c.ControlTokenFile = tok, c.ControlTokenFile, ""
	}
	if c.MetricsTokenFile != "" && c.MetricsToken == "" {
		tok, err := control.ReadContext(ctx, c.MetricsAuth)
		if err != nil {
			return err
		}
		c.metricsTokenFrom = c.key("metrics_token_file " + c.MetricsTokenFile)
		c.MetricsToken, c.metricsTokenFile, c.MetricsTokenFile = tok, c.MetricsTokenFile, ""
	}
	return nil
}

// Token is the control API's token: the config's control_token, or its
// control_token_file's, or none.
func (c *Config) Token() (string, error) {
	switch {
	case c.ControlTokenFile != "":
		tok, err := control.ReadTokenFile(c.ControlTokenFile)
		if err != nil {
			return "", fmt.Errorf("%s: control_token_file: %w", c.Source(), err)
		}
		return tok, nil
	case c.ControlToken != "":
		tok, err := control.CheckToken(c.ControlToken)
		if err != nil {
			return "", fmt.Errorf("%s: control_token: %w", c.Source(), err)
		}
		return tok, nil
	}
	return "", nil
}

// TokenFrom names where the control token (Token) came from, for a
// message that asks for another: a flag ("--control-token-file F"),
// $L2HUB_CONTROL_TOKEN, or the config's key ("h.yaml: control_token").
func (c *Config) TokenFrom() string {
	switch {
	case c.tokenFrom != "":
		return c.tokenFrom
	case c.ControlTokenFile != "":
		return c.key("control_token_file " + c.ControlTokenFile)
	}
	return c.key("control_token")
}

// MetricsTokenFrom is TokenFrom for the metrics token (MetricsAuth).
func (c *Config) MetricsTokenFrom() string {
	switch {
	case c.metricsTokenFrom != "":
		return c.metricsTokenFrom
	case c.MetricsToken != "":
		return "Config.MetricsToken" // no key: set by code
	}
	return c.key("metrics_token_file " + c.MetricsTokenFile)
}

// key names a key of the config ("h.yaml: control_token"), or a field's
// key, "the config's control_token", when it came from code.
func (c *Config) key(k string) string {
	if c.source == "" {
		return "the config's " + k
	}
	return c.source + ": " + k
}

// MetricsAuth is the metrics endpoint's token: MetricsToken, or the
// metrics_token_file's, or none. It is never the control token: a scraper
// holds it, and the endpoint only reads.
func (c *Config) MetricsAuth() (string, error) {
	switch {
	case c.MetricsToken != "":
		tok, err := control.CheckToken(c.MetricsToken)
		if err != nil {
			return "", fmt.Errorf("metrics token: %w", err)
		}
		return tok, nil
	case c.MetricsTokenFile != "":
		tok, err := control.ReadMetricsTokenFile(c.MetricsTokenFile)
		if err != nil {
			return "", fmt.Errorf("%s: metrics_token_file: %w", c.Source(), err)
		}
		return tok, nil
	}
	return "", nil
}

// ParseConfig decodes data strictly (unknown keys and wrong types are
// errors) and validates it. name is used in messages. The YAML tree is
// checked against Config first (checkConfig), so that a bad key or value is
// reported at its line and column with its field path; the decoder's own
// messages (a line, a Go type name) are only a fallback.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := Config{Mode: hub.ModeSwitch, source: name}
	root, derr := yamlfile.Decode(name, data, "config")
	switch {
	case derr != nil:
		return cfg, derr
	case root == nil:
		return cfg, fmt.Errorf("%s: empty config", name)
	}
	if err := checkConfig(name, root); err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, yamlfile.List(yamlfile.Syntax(name, err))
	}
	return cfg, cfg.finish(name, root, len(cfg.Ports))
}

// ParseConfigNode is ParseConfig for a config that is one mapping inside a
// larger YAML file, such as the hub section of an `l2hub lab` file: errors
// name the file's own lines and columns. extra ports are appended to the
// node's (a lab's VM ports) and validated with them. Relative file names
// (policy, control_token_file, metrics_token_file) are left as written: the caller knows what
// they are relative to. The caller has decoded the file (yamlfile.Decode)
// and refused its aliases (yamlfile.CheckTree).
func ParseConfigNode(name string, n *yaml.Node, extra []transport.Spec) (Config, error) {
	cfg := Config{Mode: hub.ModeSwitch, source: name}
	if n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		cfg.Ports = append(cfg.Ports, extra...)
		return cfg, cfg.finish(name, &yaml.Node{Kind: yaml.MappingNode}, 0)
	}
	if err := checkConfig(name, n); err != nil {
		return cfg, err
	}
	// checkConfig has refused every unknown key and wrong type, which
	// KnownFields would have; Node.Decode has no such option.
	if err := n.Decode(&cfg); err != nil {
		return cfg, yamlfile.List(yamlfile.Syntax(name, err))
	}
	own := len(cfg.Ports)
	cfg.Ports = append(cfg.Ports, extra...)
	return cfg, cfg.finish(name, n, own)
}

// finish records where the policy and the config's own ports (the first
// own of cfg.Ports) are in root, for errors found later, at bind time, and
// validates the config, naming the line and column of a bad field.
func (cfg *Config) finish(name string, root *yaml.Node, own int) error {
	at := func(path ...string) *yamlfile.Error {
		n := yamlfile.Lookup(root, path...)
		return &yamlfile.Error{File: name, Line: n.Line, Column: n.Column}
	}
	pos := func(path ...string) string {
		e := at(path...)
		if e.Line == 0 {
			return name
		}
		return fmt.Sprintf("%s:%d:%d", name, e.Line, e.Column)
	}
	if cfg.Policy != "" {
		cfg.policyAt = pos("policy")
	}
	cfg.where = make(map[string]string)
	cfg.portAt = make([]string, own)
	for i, p := range cfg.Ports[:own] {
		cfg.where[p.Name] = fmt.Sprintf("%s: ports[%d].address", pos("ports", strconv.Itoa(i), "address"), i)
		cfg.portAt[i] = pos("ports", strconv.Itoa(i), "name")
	}
	if err := cfg.validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			e := at(fe.path...)
			e.Path, e.Msg = fe.pathString(), fe.msg
			return e
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// maxConfigErrors bounds how many problems one config reports.
const maxConfigErrors = 20

// configWalker checks a YAML tree against a Go type's yaml fields, in file
// order, collecting every problem with its line, column and field path.
type configWalker struct {
	errs yamlfile.Errors
}

// checkConfig checks the tree under root against Config: every key is a
// field, given once; every value has the field's shape and type. It
// returns every problem found, or nil.
func checkConfig(name string, root *yaml.Node) error {
	w := &configWalker{errs: yamlfile.Errors{File: name, Max: maxConfigErrors}}
	w.walk(root, reflect.TypeFor[Config](), "", 0)
	return w.errs.Err()
}

func (w *configWalker) errf(n *yaml.Node, path, format string, args ...any) {
	w.errs.At(n, path, format, args...)
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk checks n against type t at path (ports[1].address).
func (w *configWalker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	switch {
	case len(w.errs.List) > maxConfigErrors:
		return
	case n.Kind == yaml.AliasNode:
		w.errf(n, path, "YAML aliases are not supported in a config")
		return
	case depth > 8:
		w.errf(n, path, "nested deeper than a config can be")
		return
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return // an empty value leaves the field at its default
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			w.errf(n, path, "want a value, got %s", yamlfile.Got(n))
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			w.errf(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.fields(n, t, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errf(n, path, "want a list, got %s", yamlfile.Got(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Map:
		w.errs.Entries(n, path, "a mapping", func(k, v *yaml.Node, kp string) {
			// A map whose type says a key takes several values (a vxlan
			// port's remote) may list them.
			if mv, ok := reflect.Zero(t).Interface().(interface{ MultiValued(string) bool }); ok &&
				v.Kind == yaml.SequenceNode && mv.MultiValued(k.Value) {
				for i, item := range v.Content {
					w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", kp, i), depth+1)
				}
				return
			}
			w.walk(v, t.Elem(), kp, depth+1)
		})
	default:
		w.scalar(n, t, path)
	}
}

// fields checks a mapping against a struct's yaml fields.
func (w *configWalker) fields(n *yaml.Node, t reflect.Type, path string, depth int) {
	var known []string
	types := map[string]reflect.Type{}
	for f := range t.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		known = append(known, key)
		types[key] = f.Type
	}
	w.errs.Fields(n, path, known, func(key string, v *yaml.Node, kp string) {
		w.walk(v, types[key], kp, depth+1)
	})
}

// scalar checks that n decodes as a value of type t.
func (w *configWalker) scalar(n *yaml.Node, t reflect.Type, path string) {
	var want string
	switch {
	case t == durationType:
		want = "a duration such as 300s or 1m30s"
	case t.Kind() == reflect.Bool:
		want = "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		want = "a whole number"
	case t.Kind() == reflect.String:
		want = "a string"
	default:
		want = "a " + t.Kind().String()
	}
	if n.Kind != yaml.ScalarNode {
		w.errf(n, path, "want %s, got %s", want, yamlfile.Got(n))
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.errf(n, path, "want %s, got %q", want, n.Value)
	}
}

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

// PortNames lists every port name: configured ports, then virtual peers.
func (c *Config) PortNames() []string {
	names := make([]string, 0, len(c.Ports)+len(c.Peers))
	for _, p := range c.Ports {
		names = append(names, p.Name)
	}
	return append(names, c.Peers...)
}

// CheckControlAddr is control.CheckAddr: it refuses a control address
// that only looks like one (127.0.0.1:7291 without tcp:, none meant as
// off, an abstract @name).
func CheckControlAddr(addr string) error { return control.CheckAddr(addr) }

// CheckDialAddr is control.CheckDialAddr: CheckControlAddr for a client of
// the control API, which refuses off.
func CheckDialAddr(addr string) error { return control.CheckDialAddr(addr) }

// shownControlAddr is how the banner and the ready file give a bound
// control address (control.Addr): as ctl --control takes it. A socket
// named relative to the working directory is given by its absolute path,
// as a port's is, so a client started elsewhere finds it; one whose
// absolute path would be too long for a socket's name keeps its own, with
// a unix: prefix when it would not read as a path (ctl, not ./ctl).
func shownControlAddr(addr string) string {
	network, path := control.ParseAddr(addr)
	if network != "unix" || strings.HasPrefix(path, "@") {
		return addr
	}
	if !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil && len(abs) <= unixpath.MaxLen {
			path = abs
		}
	}
	if CheckControlAddr(path) != nil {
		return "unix:" + path
	}
	return path
}
