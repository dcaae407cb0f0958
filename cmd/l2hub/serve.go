package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"l2hub/conformance"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// serveFlags are serve's command-line flags; set ones override the config file.
type serveFlags struct {
	config       string
	ports        []string
	mode         string
	queue        int
	overflow     string
	stall        time.Duration
	maxFrame     int
	aging        time.Duration
	control      string
	controlToken tokenFlags
	logLevel     string
	policy       string
	peers        []string
	probe        string
	optional     bool
	check        string
	faults       filter.Flags
	capture      serve.CaptureConfig
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
			log, err := newLogger(stderr, f.logLevel)
			if err != nil {
				return err
			}
			err = serve.Run(cmd.Context(), cfg, serve.Options{Out: stdout, Logger: log, Version: Version})
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
	fl.IntVar(&f.queue, "queue", 0, fmt.Sprintf("egress queue per port, in frames: the high-water mark (default %d)", hub.DefaultQueueLen))
	fl.StringVar(&f.overflow, "overflow", "", "what a port does with a frame its full queue cannot take: pause (hold it and stop reading its sender until the queue drains; the default, lossless) or drop (tail drop, like a physical switch)")
	fl.DurationVar(&f.stall, "stall", 0, fmt.Sprintf("a pausing port whose VM reads nothing for this long stops holding its senders back and drops its own frames until it reads again (default %s)", hub.DefaultStall))
	fl.IntVar(&f.maxFrame, "max-frame", 0, fmt.Sprintf("largest frame accepted, in bytes (default %d, QEMU's own limit)", hub.DefaultMaxFrame))
	fl.DurationVar(&f.aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default %s)", hub.DefaultAgingTime))
	fl.StringVar(&f.control, "control", "", `control API address: a unix socket path, "tcp:127.0.0.1:PORT" (needs a token), or "off" (default `+control.DefaultAddr()+`)`)
	fl.StringVar(&f.controlToken.file, "control-token-file", "", "bearer token the control API requires, from `file` (mode 0600; default $"+control.TokenEnv+"); needed for a TCP address")
	fl.StringVar(&f.controlToken.value, "control-token", "", "bearer token the control API requires (visible to every user in ps: prefer --control-token-file or $"+control.TokenEnv+")")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error; debug also logs every decision a rule makes (port, direction, length and why, as the capture's comments say it)")
	fl.StringVar(&f.check, "check", "", "check the DSoftBus protocol live: `PROFILE` nexus-v1 (what the OS sends) or noise-xk; prints milestones and a report, exit status 2 on a failed check")
	fl.BoolVar(&f.optional, "optional", false, "start even if a port cannot be opened (it stays down, with a warning)")
	fl.StringVar(&f.policy, "policy", "", "fault policy `file` (YAML; see filter/POLICY.md)")
	fl.StringArrayVar(&f.peers, "peer", nil, "attach a virtual DSoftBus node playing `ROLE` (node-a or node-b) on a port of that name (repeatable)")
	fl.StringVar(&f.probe, "probe", "", "make the virtual peer a hostile probe `NAME`: "+probeNames())
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fl.AddGoFlagSet(faults)
	fl.StringVar(&f.capture.File, "capture", "", "record the segment to `file` (pcapng unless it ends in .pcap)")
	fl.StringVar(&f.capture.Format, "capture-format", "", "capture format: pcapng or pcap (default from the file name)")
	fl.StringVar(&f.capture.Points, "capture-points", "", "what to record: ingress (what VMs sent), egress (what they got) or both (default)")
	fl.BoolVar(&f.capture.PerPort, "capture-per-port", false, "one file per port, like QEMU's filter-dump")
	fl.IntVar(&f.capture.Snaplen, "snaplen", 0, "bytes kept per frame (default: all)")
	fl.Int64Var(&f.capture.RotateSize, "rotate-size", 0, "start a new numbered capture file after this many bytes")
	fl.IntVar(&f.capture.RotateCount, "rotate-count", 0, "start a new numbered capture file after this many frames")
	return cmd
}

// resolve builds the config: the file (if any), then flags on top.
func (f *serveFlags) resolve(cmd *cobra.Command) (serve.Config, error) {
	var cfg serve.Config
	switch {
	case f.config != "":
		var err error
		if cfg, err = serve.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	case len(f.ports) == 0 && len(f.peers) == 0:
		cfg = serve.DefaultConfig()
	default:
		cfg = serve.Config{Mode: hub.ModeSwitch}
	}
	for _, p := range f.ports {
		s, err := transport.ParseSpec(p)
		if err != nil {
			return cfg, fmt.Errorf("--port %s: %w", p, err)
		}
		cfg.Ports = append(cfg.Ports, s)
	}
	changed := cmd.Flags().Changed
	if changed("mode") {
		m, err := hub.ParseMode(f.mode)
		if err != nil {
			return cfg, fmt.Errorf("--mode: %w", err)
		}
		cfg.Mode = m
	}
	if changed("queue") {
		cfg.Queue = f.queue
	}
	if changed("overflow") {
		o, err := hub.ParseOverflow(f.overflow)
		if err != nil {
			return cfg, fmt.Errorf("--overflow: %w", err)
		}
		cfg.Overflow = o
	}
	if changed("stall") {
		cfg.Stall = f.stall
	}
	if changed("max-frame") {
		cfg.MaxFrame = f.maxFrame
	}
	if changed("aging") {
		cfg.Aging = f.aging
	}
	if changed("control") {
		cfg.Control = f.control
	}
	if changed("control-token") || changed("control-token-file") || os.Getenv(control.TokenEnv) != "" {
		tok, err := f.controlToken.token()
		if err != nil {
			return cfg, err
		}
		cfg.ControlToken, cfg.ControlTokenFile = tok, ""
	}
	if changed("policy") {
		cfg.SetPolicyFile(f.policy)
	}
	if err := cfg.CheckPolicyFile(); err != nil {
		return cfg, err
	}
	if changed("peer") {
		cfg.Peers = f.peers
	}
	if changed("probe") {
		cfg.Probe = f.probe
	}
	if changed("optional") {
		cfg.Optional = f.optional
	}
	if changed("check") {
		cfg.Check = f.check
	}
	if changed("capture") {
		cfg.Capture.File = f.capture.File
	}
	if changed("capture-format") {
		cfg.Capture.Format = f.capture.Format
	}
	if changed("capture-points") {
		cfg.Capture.Points = f.capture.Points
	}
	if changed("capture-per-port") {
		cfg.Capture.PerPort = f.capture.PerPort
	}
	if changed("snaplen") {
		cfg.Capture.Snaplen = f.capture.Snaplen
	}
	if changed("rotate-size") {
		cfg.Capture.RotateSize = f.capture.RotateSize
	}
	if changed("rotate-count") {
		cfg.Capture.RotateCount = f.capture.RotateCount
	}
	cfg.Faults = &f.faults
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func probeNames() string {
	var names []string
	for _, p := range conformance.Probes() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}
