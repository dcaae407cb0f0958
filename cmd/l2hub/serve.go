package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// serveFlags are serve's command-line flags; set ones override the config
// file. over holds the values of those that are config fields.
type serveFlags struct {
	config, mode, overflow, logLevel string
	logFormat, readyFile, summary    string
	json                             bool
	ports                            []string
	controlToken                     tokenFlags
	faults                           filter.Flags
	over                             serve.Config
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the hub (the default command)",
		Long: `Run the hub until SIGINT or SIGTERM.

Ports come from --config FILE, from --port flags, or both; with neither, two
ports a and b listen on 127.0.0.1:7001 and :7002. For each port l2hub prints
the exact -netdev flags a QEMU VM needs to attach to it.

A port is NAME=TRANSPORT:ADDRESS[,key=value...]:
  a=tcp:127.0.0.1:7001                      hub listens; QEMU stream,server=off / socket,connect=
  b=tcp-dial:127.0.0.1:7002                 QEMU listens (server=on / listen=); hub dials and redials
  c=unix:/run/l2hub/c.sock                  like tcp, on a unix socket (unix-dial to dial)
  d=udp:127.0.0.1:7003,peer=127.0.0.1:7103  QEMU dgram: hub binds 7003 and sends to the VM on 7103
  e=unixgram:/run/l2hub/e.sock,peer=/run/vm/e.sock
  m=mcast:230.0.0.1:37021,local=127.0.0.1   hub joins QEMU's socket,mcast= group as one more member
  t=tap:l2h0,ip=10.42.0.1/24                host TAP interface (root or CAP_NET_ADMIN; mac=, netns=)

Faults come from --policy FILE (see filter/POLICY.md) and/or the quick flags
(--loss a->b=5%, --delay a<->b=20ms±5ms, ...); every decision is seeded
(--seed) and explained in the capture (--capture run.pcapng).`,
		Example: `  l2hub serve --port a=tcp:127.0.0.1:7001 --port b=unix:/tmp/b.sock
  l2hub serve --config lab.yaml --mode hub
  l2hub serve --policy faults.yaml --seed 7 --capture run.pcapng
  l2hub serve --loss 'a->b=5%' --delay 'a<->b=20ms±5ms' --capture run.pcapng`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.resolve(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(stderr, f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			opts := serve.Options{Out: stdout, Logger: log, Version: Version,
				ReadyFile: f.readyFile, JSON: f.json, SummaryFile: f.summary}
			if f.json {
				// stdout carries the JSON summary alone; what people read
				// goes to stderr.
				opts.Out, opts.SummaryOut = stderr, stdout
			}
			if cfg.Capture.File == capture.Stdout {
				if f.json {
					return errors.New("--capture - and --json both want standard output: write the summary with --summary FILE")
				}
				// stdout carries the pcapng stream; people read stderr. A
				// reader that goes away (Wireshark closed) fails the capture,
				// logged, and the hub goes on, rather than SIGPIPE ending it.
				opts.Out = stderr
				signal.Ignore(syscall.SIGPIPE)
			}
			err = serve.Run(cmd.Context(), cfg, opts)
			if errors.Is(err, serve.ErrCheckFailed) {
				return &exitError{code: 2, msg: err.Error()}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "YAML config `file` (see README: config reference)")
	fl.StringArrayVarP(&f.ports, "port", "p", nil, "add a port: NAME=TRANSPORT:ADDRESS[,key=value...] (repeatable)")
	fl.StringVar(&f.mode, "mode", "", "forwarding mode: switch (learning, the default) or hub (flood everything)")
	fl.IntVar(&f.over.Queue, "queue", 0, fmt.Sprintf("egress queue per port, in frames: the high-water mark (default %d)", hub.DefaultQueueLen))
	fl.StringVar(&f.overflow, "overflow", "", "what a port does with a frame its full queue cannot take: pause (hold it and stop reading its sender until the queue drains; the default, lossless) or drop (tail drop, like a physical switch)")
	fl.DurationVar(&f.over.Stall, "stall", 0, fmt.Sprintf("a pausing port whose VM reads nothing for this long stops holding its senders back and drops its own frames until it reads again (default %s)", hub.DefaultStall))
	fl.IntVar(&f.over.MaxFrame, "max-frame", 0, fmt.Sprintf("largest frame accepted, in bytes (default %d, QEMU's own limit)", hub.DefaultMaxFrame))
	fl.DurationVar(&f.over.Aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default %s)", hub.DefaultAgingTime))
	fl.StringVar(&f.over.Control, "control", "", `control API address: a unix socket path, "tcp:127.0.0.1:PORT" (needs a token), or "off" (default `+control.DefaultAddr()+`)`)
	fl.StringVar(&f.controlToken.file, "control-token-file", "", "bearer token the control API requires, from `file` (mode 0600; default $"+control.TokenEnv+"); needed for a TCP address")
	fl.StringVar(&f.controlToken.value, "control-token", "", "bearer token the control API requires (visible to every user in ps: prefer --control-token-file or $"+control.TokenEnv+")")
	fl.StringVar(&f.over.Metrics, "metrics", "", `serve GET /metrics alone, for Prometheus, on "tcp:HOST:PORT" (e.g. tcp:127.0.0.1:9465): read-only; on a loopback address no token, on any other the control token as a bearer token`)
	fl.StringVar(&f.readyFile, "ready-file", "", "once every port and the control API are bound, write `file` (atomically: JSON with the pid, the control address and each port's address and -netdev value); removed at exit. l2hub wait waits for it")
	fl.StringVar(&f.summary, "summary", "", "at exit, write the counters (ports, rules, capture, the live check's report) to `file` as JSON, whatever ended the run")
	fl.BoolVar(&f.json, "json", false, "print the exit summary as JSON on stdout (the banner and markers then go to stderr)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text (logfmt) or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error; debug also logs every decision a rule makes (port, direction, length and why, as the capture's comments say it)")
	fl.StringVar(&f.over.Check, "check", "", "check the DSoftBus protocol live: `PROFILE` nexus-v1 (what the OS sends) or noise-xk; prints milestones and a report, exit status 2 on a failed check")
	fl.BoolVar(&f.over.Optional, "optional", false, "start even if a port cannot be opened (it stays down, with a warning)")
	fl.StringVar(&f.over.Policy, "policy", "", "fault policy `file` (YAML; see filter/POLICY.md)")
	fl.StringArrayVar(&f.over.Peers, "peer", nil, "attach a virtual DSoftBus node playing `ROLE` (node-a or node-b) on a port of that name (repeatable)")
	fl.StringVar(&f.over.Probe, "probe", "", "make the virtual peer a hostile probe `NAME`: "+strings.Join(conformance.ProbeNames(), ", "))
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fl.AddGoFlagSet(faults)
	fl.StringVar(&f.over.Capture.File, "capture", "", "record the segment to `file` (pcapng unless it ends in .pcap); - streams pcapng to stdout for a live Wireshark (l2hub serve --capture - | wireshark -k -i -), and the banner goes to stderr")
	fl.StringVar(&f.over.Capture.Format, "capture-format", "", "capture format: pcapng or pcap (default from the file name)")
	fl.StringVar(&f.over.Capture.Points, "capture-points", "", "what to record: ingress (what VMs sent), egress (what they got) or both (default)")
	fl.BoolVar(&f.over.Capture.PerPort, "capture-per-port", false, "one file per port, like QEMU's filter-dump")
	fl.IntVar(&f.over.Capture.Snaplen, "snaplen", 0, "bytes kept per frame (default: all)")
	fl.Int64Var(&f.over.Capture.RotateSize, "rotate-size", 0, "start a new numbered capture file after this many bytes")
	fl.IntVar(&f.over.Capture.RotateCount, "rotate-count", 0, "start a new numbered capture file after this many frames")
	return cmd
}

// baseConfig is the config flags start from: the file's, or with neither
// ports nor peers the default two-port hub, or an empty switch; then every
// --port value is added.
func baseConfig(file string, ports, peers []string) (serve.Config, error) {
	cfg := serve.Config{Mode: hub.ModeSwitch}
	switch {
	case file != "":
		var err error
		if cfg, err = serve.LoadConfig(file); err != nil {
			return cfg, err
		}
	case len(ports) == 0 && len(peers) == 0:
		cfg = serve.DefaultConfig()
	}
	for _, p := range ports {
		s, err := transport.ParseSpec(p)
		if err != nil {
			return cfg, fmt.Errorf("--port %s: %w", p, err)
		}
		cfg.Ports = append(cfg.Ports, s)
	}
	return cfg, nil
}

// resolve builds the config: the file (if any), then flags on top.
func (f *serveFlags) resolve(cmd *cobra.Command) (serve.Config, error) {
	cfg, err := baseConfig(f.config, f.ports, f.over.Peers)
	if err != nil {
		return cfg, err
	}
	changed := cmd.Flags().Changed
	if changed("mode") {
		m, err := hub.ParseMode(f.mode)
		if err != nil {
			return cfg, fmt.Errorf("--mode: %w", err)
		}
		cfg.Mode = m
	}
	if changed("overflow") {
		o, err := hub.ParseOverflow(f.overflow)
		if err != nil {
			return cfg, fmt.Errorf("--overflow: %w", err)
		}
		cfg.Overflow = o
	}
	o, c := &f.over, &cfg.Capture
	for name, set := range map[string]func(){
		"queue": func() { cfg.Queue = o.Queue }, "stall": func() { cfg.Stall = o.Stall },
		"max-frame": func() { cfg.MaxFrame = o.MaxFrame }, "aging": func() { cfg.Aging = o.Aging },
		"control": func() { cfg.Control = o.Control }, "peer": func() { cfg.Peers = o.Peers },
		"probe": func() { cfg.Probe = o.Probe }, "optional": func() { cfg.Optional = o.Optional },
		"check": func() { cfg.Check = o.Check }, "capture": func() { c.File = o.Capture.File },
		"capture-format": func() { c.Format = o.Capture.Format }, "capture-points": func() { c.Points = o.Capture.Points },
		"capture-per-port": func() { c.PerPort = o.Capture.PerPort }, "snaplen": func() { c.Snaplen = o.Capture.Snaplen },
		"rotate-size": func() { c.RotateSize = o.Capture.RotateSize }, "rotate-count": func() { c.RotateCount = o.Capture.RotateCount },
		"metrics": func() { cfg.Metrics = o.Metrics },
	} {
		if changed(name) {
			set()
		}
	}
	if changed("control-token") || changed("control-token-file") || os.Getenv(control.TokenEnv) != "" {
		tok, err := f.controlToken.token()
		if err != nil {
			return cfg, err
		}
		cfg.ControlToken, cfg.ControlTokenFile = tok, ""
	}
	if changed("policy") {
		cfg.SetPolicyFile(o.Policy)
	}
	if err := cfg.CheckPolicyFile(); err != nil {
		return cfg, err
	}
	cfg.Faults = &f.faults
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
