package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/transport"
)

// Flags is serve's command-line front end: the flags that override a
// config file's fields (or make a config without one), the quick fault
// flags and the log's. Register adds them to a flag set; Config resolves
// them once it is parsed.
type Flags struct {
	File                string   // --config
	Ports               []string // --port values
	LogLevel, LogFormat string
	mode, overflow      string
	token               control.TokenFlags
	faults              filter.Flags
	over                Config // the values of the flags that are config fields
	readyFile, summary  string
	metricsTokenFile    string
	log                 *slog.Logger // Logger's
	json                bool
	changed             func(name string) bool
}

// Register adds serve's flags to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	o, c := &f.over, &f.over.Capture
	fs.StringVarP(&f.File, "config", "c", "", "YAML config `file` (see README: config reference)")
	fs.StringArrayVarP(&f.Ports, "port", "p", nil, "add a port: NAME=TRANSPORT:ADDRESS[,key=value...] (repeatable)")
	fs.StringVar(&f.mode, "mode", "", "forwarding mode: switch (learning, the default) or hub (flood everything)")
	fs.IntVar(&o.Queue, "queue", 0, fmt.Sprintf("egress queue per port, in frames: the high-water mark (default %d)", hub.DefaultQueueLen))
	fs.StringVar(&f.overflow, "overflow", "", "what a port does with a frame its full queue cannot take: pause (hold it and stop reading its sender until the queue drains; the default, lossless) or drop (tail drop, like a physical switch)")
	fs.DurationVar(&o.Stall, "stall", 0, fmt.Sprintf("a pausing port whose VM reads nothing for this long stops holding its senders back and drops its own frames until it reads again (default %s)", hub.DefaultStall))
	fs.IntVar(&o.MaxFrame, "max-frame", 0, fmt.Sprintf("largest frame accepted, in bytes (default %d, QEMU's own limit)", hub.DefaultMaxFrame))
	fs.DurationVar(&o.Aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default %s)", hub.DefaultAgingTime))
	fs.StringVar(&o.Control, "control", "", `control API address: a unix socket path (with a '/' or a .sock suffix: ./ctl, hub.sock, or any path as unix:PATH), "tcp:127.0.0.1:PORT" (needs a token), or "off" (default `+control.DefaultAddr()+`); the banner and the ready file give it as l2hub ctl --control takes it`)
	f.token.Register(fs.StringVar)
	fs.StringVar(&o.Metrics, "metrics", "", `serve GET /metrics alone, for Prometheus, on "tcp:HOST:PORT" (e.g. tcp:127.0.0.1:9465): read-only; on a loopback address no token, on any other a metrics token of its own (--metrics-token-file)`)
	fs.StringVar(&f.metricsTokenFile, "metrics-token-file", "", "the metrics endpoint's bearer token, from `file` (mode 0600; default $"+control.MetricsTokenEnv+"): read-only, never the control token; every scrape must send it, and a --metrics address other than loopback needs one")
	fs.StringVar(&f.readyFile, "ready-file", "", "once every port and the control API are bound, write `file` (atomically: JSON with the pid, the control address and each port's address and -netdev value); removed at exit. l2hub wait waits for it. A file another hub that still runs has written is refused: give each hub its own")
	fs.StringVar(&f.summary, "summary", "", "at exit, write the counters (ports, rules, capture, the live check's report) to `file` as JSON, whatever ended the run")
	fs.BoolVar(&f.json, "json", false, "print the exit summary as JSON on stdout (the banner and markers then go to stderr)")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format on stderr: text (logfmt) or json; with json, stderr is JSON records alone (the banner, markers, the stop notice and the final error become records too)")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error; debug also logs every decision a rule makes (port, direction, length and why, as the capture's comments say it)")
	fs.StringVar(&o.Check, "check", "", "check the DSoftBus protocol live: `PROFILE` nexus-v1 (what the OS sends) or noise-xk; prints milestones and a report, exit status 2 on a failed check")
	fs.BoolVar(&o.Optional, "optional", false, "start even if a port cannot be opened (it stays down, with a warning)")
	fs.StringVar(&o.Policy, "policy", "", "fault policy `file` (YAML; see filter/POLICY.md)")
	fs.StringArrayVar(&o.Peers, "peer", nil, "attach a virtual DSoftBus node playing `ROLE` (node-a or node-b) on a port of that name (repeatable)")
	fs.StringVar(&o.Probe, "probe", "", "make the virtual peer a hostile probe `NAME`: "+strings.Join(conformance.ProbeNames(), ", "))
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fs.AddGoFlagSet(faults)
	fs.StringVar(&c.File, "capture", "", "record the segment to `file` (pcapng unless it ends in .pcap); - streams pcapng to stdout for a live Wireshark (l2hub serve --capture - | wireshark -k -i -), and the banner goes to stderr")
	fs.StringVar(&c.Format, "capture-format", "", "capture format: pcapng or pcap (default from the file name); classic pcap records no verdicts, seed, policy or direction, so its replay is no reproduction")
	fs.StringVar(&c.Points, "capture-points", "", "what to record: ingress (what VMs sent), egress (what they got) or both (default)")
	fs.BoolVar(&c.PerPort, "capture-per-port", false, "one file per port, like QEMU's filter-dump")
	fs.IntVar(&c.Snaplen, "snaplen", 0, fmt.Sprintf("bytes kept per frame, at most %d (default %d: every frame whole, as tcpdump's default; a longer frame, which --max-frame allows, is cut short)", capture.MaxSnaplen, capture.DefaultSnaplen))
	fs.Int64Var(&c.RotateSize, "rotate-size", 0, "start a new numbered capture file after this many bytes")
	fs.IntVar(&c.RotateCount, "rotate-count", 0, "start a new numbered capture file after this many frames")
	fs.DurationVar(&c.CloseTimeout, "capture-close-timeout", 0, fmt.Sprintf("at exit, give up on a capture file or stream that takes nothing for this long, such as a pipe whose reader stopped reading; the exit status is then 1 (default %s)", capture.DefaultCloseTimeout))
	f.changed = fs.Changed
}

// BaseConfig is the config flags start from: file's, or with neither
// ports nor peers the default two-port hub, or an empty switch; then every
// --port value is added. The file's is read, not validated: flags may give
// what it leaves out (its ports, the capture file its capture options
// need), so the caller validates the config once it is whole (Validate,
// which names the file's line and column for what remains wrong there).
func BaseConfig(file string, ports, peers []string) (Config, error) {
	cfg := Config{Mode: hub.ModeSwitch}
	switch {
	case file != "":
		var err error
		if cfg, err = loadConfig(file); err != nil {
			return cfg, err
		}
	case len(ports) == 0 && len(peers) == 0:
		cfg = DefaultConfig()
	}
	for _, p := range ports {
		s, err := transport.ParseSpec(p)
		if err != nil {
			return cfg, fmt.Errorf("--port %s: %w", p, err)
		}
		cfg.setBy(fmt.Sprintf("ports[%d]", len(cfg.Ports)), "--port "+p)
		cfg.Ports = append(cfg.Ports, s)
	}
	return cfg, nil
}

// Config builds the config once the flag set is parsed: the config file
// (if any), then the flags that were set on top, validated together.
func (f *Flags) Config() (Config, error) {
	cfg, err := BaseConfig(f.File, f.Ports, f.over.Peers)
	if pe := new(fs.PathError); errors.As(err, &pe) {
		return cfg, fmt.Errorf("--config: %w", err) // the file cannot be read
	}
	if err != nil {
		return cfg, err
	}
	changed := f.changed
	if changed("mode") {
		if cfg.Mode, err = hub.ParseMode(f.mode); err != nil {
			return cfg, fmt.Errorf("--mode: %w", err)
		}
	}
	if changed("overflow") {
		if cfg.Overflow, err = hub.ParseOverflow(f.overflow); err != nil {
			return cfg, fmt.Errorf("--overflow: %w", err)
		}
	}
	o, c := &f.over, &cfg.Capture
	// Each flag that is a config field: the field's path, for messages,
	// and how it sets it.
	for name, field := range map[string]struct {
		path string
		set  func()
	}{
		"queue": {"queue", func() { cfg.Queue = o.Queue }}, "stall": {"stall", func() { cfg.Stall = o.Stall }},
		"max-frame": {"max_frame", func() { cfg.MaxFrame = o.MaxFrame }}, "aging": {"aging", func() { cfg.Aging = o.Aging }},
		"control": {"control", func() { cfg.Control = o.Control }}, "peer": {"peers", func() { cfg.Peers = o.Peers }},
		"probe": {"probe", func() { cfg.Probe = o.Probe }}, "optional": {"optional", func() { cfg.Optional = o.Optional }},
		"check": {"check", func() { cfg.Check = o.Check }}, "capture": {"capture.file", func() { c.File = o.Capture.File }},
		"capture-format":        {"capture.format", func() { c.Format = o.Capture.Format }},
		"capture-points":        {"capture.points", func() { c.Points = o.Capture.Points }},
		"capture-per-port":      {"capture.per_port", func() { c.PerPort = o.Capture.PerPort }},
		"snaplen":               {"capture.snaplen", func() { c.Snaplen = o.Capture.Snaplen }},
		"rotate-size":           {"capture.rotate_size", func() { c.RotateSize = o.Capture.RotateSize }},
		"rotate-count":          {"capture.rotate_count", func() { c.RotateCount = o.Capture.RotateCount }},
		"capture-close-timeout": {"capture.close_timeout", func() { c.CloseTimeout = o.Capture.CloseTimeout }},
		"metrics":               {"metrics", func() { cfg.Metrics = o.Metrics }},
	} {
		if changed(name) {
			field.set()
			cfg.setBy(field.path, "--"+name)
		}
	}
	if changed("policy") {
		cfg.SetPolicyFile(o.Policy)
		cfg.setBy("policy", "--policy")
	}
	if c := &cfg.Capture; c.File != "" && c.File != capture.Stdout && capture.WritesStdout(c.File) {
		// Another name of standard output (/dev/stdout, the file the
		// shell sent it to) is the stream "-" is: a set-policy starts a
		// section in it, never a numbered file beside it (/dev/stdout-0001).
		c.File, c.given = capture.Stdout, c.File
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	// A token comes from a flag, else the environment, else the config
	// file. The environment winning over the file is said: a variable
	// exported for ctl against another hub would otherwise change this
	// hub's token without a word.
	if changed("control-token") || changed("control-token-file") || os.Getenv(control.TokenEnv) != "" {
		configs := cfg.configToken()
		tok, err := f.token.Token()
		if err != nil {
			if f.token.File != "" && f.token.Value == "" {
				err = fmt.Errorf("--control-token-file: %w", err)
			}
			return cfg, err
		}
		cfg.ControlToken, cfg.ControlTokenFile, cfg.tokenFile = tok, "", f.token.File
		switch {
		case f.token.Value != "":
			cfg.tokenFrom = "--control-token"
			f.warn("--control-token shows the token to every user of this host (ps, /proc) for as long as the hub runs: " +
				"prefer --control-token-file or $" + control.TokenEnv)
		case f.token.File != "":
			cfg.tokenFrom = "--control-token-file " + f.token.File
		default:
			cfg.tokenFrom = "$" + control.TokenEnv
			if configs != "" {
				f.warn("$"+control.TokenEnv+" overrides the config's control token: the hub takes the environment's "+
					"(a flag wins over the environment, which wins over the config file); unset it for the config's", "config", configs)
			}
		}
	}
	if changed("metrics-token-file") || os.Getenv(control.MetricsTokenEnv) != "" {
		configs := ""
		if cfg.MetricsTokenFile != "" {
			configs = cfg.key("metrics_token_file", cfg.MetricsTokenFile)
		}
		tok, err := control.ResolveMetricsToken(f.metricsTokenFile)
		if err != nil {
			if f.metricsTokenFile != "" {
				err = fmt.Errorf("--metrics-token-file: %w", err)
			}
			return cfg, err
		}
		cfg.MetricsToken, cfg.MetricsTokenFile, cfg.metricsTokenFile = tok, "", f.metricsTokenFile
		cfg.metricsTokenFrom = "$" + control.MetricsTokenEnv
		if f.metricsTokenFile != "" {
			cfg.metricsTokenFrom = "--metrics-token-file " + f.metricsTokenFile
		} else if configs != "" {
			f.warn("$"+control.MetricsTokenEnv+" overrides the config's metrics token: the hub takes the environment's "+
				"(a flag wins over the environment, which wins over the config file); unset it for the config's", "config", configs)
		}
	}
	if f.File != "" && cfg.tokenFrom == "" && cfg.ControlToken != "" {
		// The token is the file's own control_token: the file must be as
		// private as a token file.
		if err := control.CheckPrivateFile("config file", control.TokenEnv, f.File); err != nil {
			return cfg, fmt.Errorf("%w (it gives control_token, so it must be as private as a token file; "+
				"or move the token to a file of mode 0600, control_token_file:)", err)
		}
	}
	if err := cfg.CheckPolicyFile(); err != nil {
		return cfg, err
	}
	cfg.Faults = &f.faults
	return cfg, nil
}

// warn logs a warning about the flags on the log Logger made, if any.
func (f *Flags) warn(msg string, args ...any) {
	if f.log != nil {
		f.log.Warn(msg, args...)
	}
}

// configToken names the config's control token ("h.yaml: control_token",
// "h.yaml: control_token_file F"), "" if it gives none.
func (c *Config) configToken() string {
	switch {
	case c.ControlTokenFile != "":
		return c.key("control_token_file", c.ControlTokenFile)
	case c.ControlToken != "":
		return c.key("control_token", "")
	}
	return ""
}

// Options are the run's options the flags give, for a command whose
// standard output and error are stdout and stderr: with --json, stdout
// carries the JSON summary alone, and with --capture - the pcapng stream
// (refused when stdout is a terminal); what people read then goes to
// stderr. With --log-format json, stderr carries JSON records alone: what
// people read there (the banner with the QEMU flags, each marker line,
// the summary) becomes one log record each (logLines, logSummary).
func (f *Flags) Options(cfg Config, stdout, stderr io.Writer, version string) (Options, error) {
	log, err := f.Logger(stderr)
	if err != nil {
		return Options{}, err
	}
	opts := Options{Logger: log, Version: version, ReadyFile: f.readyFile, JSON: f.json, SummaryFile: f.summary}
	outToStderr, summaryToStderr := f.json, false
	if cfg.Capture.File == capture.Stdout {
		if f.json {
			return opts, errors.New("--capture - and --json both want standard output: write the summary with --summary FILE")
		}
		if isTerminal(stdout) {
			return opts, errors.New("--capture -: standard output is a terminal, and a pcapng stream is binary: " +
				"pipe it to a reader (l2hub serve --capture - | wireshark -k -i -) or capture to a file")
		}
		outToStderr, summaryToStderr = true, true
		if out, ok := stdout.(*os.File); !ok || out != os.Stdout {
			opts.CaptureOut = stdout // an in-process caller's, not the process's
		}
	}
	opts.Out, opts.SummaryOut = stdout, stdout
	if outToStderr {
		opts.Out = stderr
		if f.JSONLogs() {
			opts.Out = logLines{OutputLog(log)}
		}
	}
	if summaryToStderr {
		opts.SummaryOut = stderr
		if f.JSONLogs() {
			opts.SummaryOut, opts.JSON = logSummary{OutputLog(log)}, true
		}
	}
	return opts, nil
}

// Logger is the log --log-level and --log-format ask for, on stderr: made
// on the first call, the same one after.
func (f *Flags) Logger(stderr io.Writer) (*slog.Logger, error) {
	if f.log == nil {
		log, err := NewLogger(stderr, f.LogLevel, f.LogFormat)
		if err != nil {
			return nil, err
		}
		f.log = log
	}
	return f.log, nil
}

// JSONLogs reports whether --log-format json asks for stderr to carry JSON
// log records alone.
func (f *Flags) JSONLogs() bool { return f.LogFormat == "json" }

// JSONLogsIn reports whether serve's arguments (those after the command's
// name) ask for --log-format json, read as Register's flag set reads them
// but past a flag it does not know: a command line that fails before serve
// has made its log (an unknown flag, a bad --log-level) can still say so
// in JSON. A bad --log-format value is not json: its error stays text.
func JSONLogsIn(args []string) bool {
	var f Flags
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	f.Register(fs)
	fs.Parse(args) // what it read up to an error is the best there is
	return f.JSONLogs()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logLines is where what serve prints for people goes when it would share
// stderr with JSON log records: each Write (the banner with the QEMU
// flags, or one marker line) becomes one INFO record, its first line the
// message and the others, trimmed, in "lines". A record says its "kind":
// "marker" for a marker line (written "l2hub: ..."; the record's message
// drops the prefix, which tells people l2hub's lines from a VM's),
// "banner" otherwise. The ready file has the banner's facts as JSON. log
// is an OutputLog: the records are output, whatever --log-level says.
type logLines struct{ log *slog.Logger }

func (w logLines) Write(p []byte) (int, error) {
	var lines []string
	for l := range strings.Lines(string(p)) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return len(p), nil
	}
	kind := "banner"
	if m, ok := strings.CutPrefix(lines[0], "l2hub: "); ok {
		kind, lines[0] = "marker", m
	}
	if len(lines) == 1 {
		w.log.Info(lines[0], "kind", kind)
	} else {
		w.log.Info(lines[0], "kind", kind, "lines", lines[1:])
	}
	return len(p), nil
}

// logSummary is where the exit summary, as JSON, goes when it would share
// stderr with JSON log records: one INFO record "summary" of kind
// "summary" holding it. log is an OutputLog.
type logSummary struct{ log *slog.Logger }

func (w logSummary) Write(p []byte) (int, error) {
	w.log.Info("summary", "kind", "summary", "summary", json.RawMessage(bytes.TrimSpace(p)))
	return len(p), nil
}

// NewLogger is the log --log-level and --log-format ask for, on w. Its
// OutputLog writes through the same handler without the level filter.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	// The handler takes every level; levelFilter applies --log-level, so
	// that OutputLog can write through the same handler (one lock, whole
	// records on w) without it.
	opts := &slog.HandlerOptions{Level: slog.Level(math.MinInt)}
	switch format {
	case "text", "":
		return slog.New(levelFilter{slog.NewTextHandler(w, opts), l}), nil
	case "json":
		return slog.New(levelFilter{slog.NewJSONHandler(w, opts), l}), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// OutputLog is log for what serve and main print for people when stderr
// carries JSON records (the banner with the QEMU flags, the markers, the
// summary, the stop notice): output, not diagnostics, so --log-level does
// not filter it, as it does not filter those lines in text. For a log
// NewLogger did not make, it is log.
func OutputLog(log *slog.Logger) *slog.Logger {
	if f, ok := log.Handler().(levelFilter); ok {
		return slog.New(f.h)
	}
	return log
}

// levelFilter is h with records below min dropped.
type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}

func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }

func (f levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{f.h.WithAttrs(attrs), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.h.WithGroup(name), f.min}
}
