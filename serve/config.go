package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/unixpath"
	"l2hub/transport"
)

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
	node     *yaml.Node        // the file's mapping (or a lab file's hub:), for the line and column of a field found wrong
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
	// given is the name File was given as when it is another name of
	// standard output (/dev/stdout), which Flags.Config makes Stdout:
	// messages name the path the user wrote, not "-".
	given string
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

// CheckPolicyFile checks that the policy file a config names, or --policy,
// can be read, so that its absence is reported at the config's line or
// with the flag, not as a bare file name.
func (c *Config) CheckPolicyFile() error {
	flag, _, fromFlag := c.flagFor([]string{"policy"})
	if c.Policy == "" || c.policyAt == "" && !fromFlag {
		return nil
	}
	f, err := os.Open(c.Policy)
	switch {
	case err == nil:
		return f.Close()
	case c.policyAt != "":
		return fmt.Errorf("%s: policy: %w", c.policyAt, err)
	}
	return fmt.Errorf("%s: %w", flag, err)
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
		c.tokenFrom = c.key("control_token_file", c.ControlTokenFile)
		c.ControlToken, c.tokenFile, c.ControlTokenFile = tok, c.ControlTokenFile, ""
	}
	if c.MetricsTokenFile != "" && c.MetricsToken == "" {
		tok, err := control.ReadContext(ctx, c.MetricsAuth)
		if err != nil {
			return err
		}
		c.metricsTokenFrom = c.key("metrics_token_file", c.MetricsTokenFile)
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
			return "", c.blame(err, "control_token_file")
		}
		return tok, nil
	case c.ControlToken != "":
		tok, err := control.CheckToken(c.ControlToken)
		if err != nil {
			return "", c.blame(err, "control_token")
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
		return c.key("control_token_file", c.ControlTokenFile)
	}
	return c.key("control_token", "")
}

// MetricsTokenFrom is TokenFrom for the metrics token (MetricsAuth).
func (c *Config) MetricsTokenFrom() string {
	switch {
	case c.metricsTokenFrom != "":
		return c.metricsTokenFrom
	case c.MetricsToken != "":
		return "Config.MetricsToken" // no key: set by code
	}
	return c.key("metrics_token_file", c.MetricsTokenFile)
}

// key names a key of the config, with its value when that says more (a
// token file's name): "h.yaml:3:16: control_token_file F" (without the
// line and column when the file does not give it), or a field's key,
// "the config's control_token", when it came from code.
func (c *Config) key(k, value string) string {
	if value != "" {
		value = " " + value
	}
	switch at := c.placeOf(k); {
	case c.source == "":
		return "the config's " + k + value
	case at != "":
		return at + ": " + k + value
	}
	return c.source + ": " + k + value
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
			return "", c.blame(err, "metrics_token_file")
		}
		return tok, nil
	}
	return "", nil
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
