package main

import (
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/replay"
)

type injectFlags struct {
	into       string
	control    string
	token      tokenFlags
	speed      float64
	flood      bool
	pps        string
	bps        string
	loop       int
	from       string
	fromMAC    string
	rewriteMAC []string
	rewriteIP  []string
	json       bool
	truncOK    bool
}

func newInjectCmd(stdout, stderr io.Writer) *cobra.Command {
	var f injectFlags
	cmd := &cobra.Command{
		Use:   "inject CAPTURE --into PORT [flags]",
		Short: "Send a capture's frames into a live port of a running hub, towards its VM",
		Long: `Send the frames of a pcap or pcapng file to the VM on a port of a running hub,
through its control API, as if the hub had forwarded them there.

Frames leave at the recorded timing (--speed 1, the default), a multiple of it
(--speed 2 is twice as fast), a fixed rate (--pps frames/s or --bps bit/s,
with k, M or G suffixes), or as fast as possible (--flood or --speed 0).
Each frame is scheduled against an absolute deadline (start + offset), so
lateness never accumulates; the report gives the median and worst drift.

From an l2hub capture only the ingress copies (what a VM sent) are sent;
--from PORT keeps one port's, --from-mac one source MAC's. --rewrite-mac and
--rewrite-ip aim a recorded exchange at another VM (IPv4 or IPv6), fixing
IPv4, TCP, UDP, ICMP and ICMPv6 checksums.

A port with no VM attached is refused (every frame would be dropped). The
port's drop counters that rose while the frames went out are reported, and
frames that found no VM (it went away) make the command fail.`,
		Example: `  l2hub inject handshake.pcapng --into b --from a
  l2hub inject packets-A.pcap --into c --from-mac 52:54:00:12:34:0a \
      --rewrite-mac 52:54:00:12:34:0b=52:54:00:12:34:0c --rewrite-ip 10.42.0.11=10.42.0.12
  l2hub inject load.pcap --into a --pps 10k --loop 100`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInject(cmd, f, args[0], stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.into, "into", "", "the `port` whose VM receives the frames (required)")
	fl.StringVar(&f.control, "control", "", "the hub's control address (default "+control.DefaultAddr()+")")
	f.token.register(fl.StringVar)
	fl.Float64Var(&f.speed, "speed", 1, "multiple of the recorded timing; 0 sends as fast as possible")
	fl.BoolVar(&f.flood, "flood", false, "send as fast as possible (same as --speed 0)")
	fl.StringVar(&f.pps, "pps", "", "send at a fixed `rate` in frames per second (e.g. 500, 10k)")
	fl.StringVar(&f.bps, "bps", "", "send at a fixed `rate` in bits per second (e.g. 64k, 10M)")
	fl.IntVar(&f.loop, "loop", 1, "send the capture this many times")
	fl.StringVar(&f.from, "from", "", "only the frames that `port` sent (an l2hub capture's interface, or a file's port)")
	fl.StringVar(&f.fromMAC, "from-mac", "", "only the frames with this source `MAC`")
	fl.StringArrayVar(&f.rewriteMAC, "rewrite-mac", nil, "rewrite MAC `OLD=NEW` (Ethernet and ARP; repeatable)")
	fl.StringArrayVar(&f.rewriteIP, "rewrite-ip", nil, "rewrite IP address `OLD=NEW` (IPv4 or IPv6), fixing checksums (repeatable)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	fl.BoolVar(&f.truncOK, "allow-truncated", false, "a capture cut short (a killed writer) is sent up to the cut and the command succeeds; without it, it fails after sending")
	cmd.MarkFlagRequired("into")
	return cmd
}

func runInject(cmd *cobra.Command, f injectFlags, path string, stdout, stderr io.Writer) error {
	changed := cmd.Flags().Changed
	cfg := replay.InjectConfig{Input: replay.Input{Path: path}, From: f.from, Loop: f.loop}
	if f.loop < 1 {
		return fmt.Errorf("--loop %d: want 1 or more", f.loop)
	}
	var err error
	if cfg.Pacing, err = replay.ParsePacing(changed, f.speed, f.flood, f.pps, f.bps); err != nil {
		return err
	}
	if f.fromMAC != "" {
		hw, err := net.ParseMAC(f.fromMAC)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("--from-mac %q: not a MAC address", f.fromMAC)
		}
		mac := [6]byte(hw)
		cfg.FromMAC = &mac
	}
	if cfg.Rewrite, err = replay.NewRewriter(f.rewriteMAC, f.rewriteIP); err != nil {
		return err
	}

	token, err := f.token.token()
	if err != nil {
		return err
	}
	var truncated *replay.InputError
	err = replay.InjectInto(cmd.Context(), control.NewClient(f.control, token), f.into, cfg,
		func(rep *replay.InjectReport) {
			if f.json {
				writeJSON(stdout, rep)
			} else {
				fmt.Fprintf(stdout, "inject %s into %s (%s): %s\n", path, f.into, cfg.Pacing, rep)
			}
			if rep.Input != nil {
				fmt.Fprintf(stderr, "l2hub inject: warning: %v; the frames before it were sent\n", rep.Input)
				if rep.Input.Truncated() {
					truncated = rep.Input
				}
			}
		},
		func(w string) { fmt.Fprintln(stderr, "l2hub inject: warning:", w) })
	if err == nil && truncated != nil && !f.truncOK {
		return fmt.Errorf("%w (--allow-truncated accepts a capture cut short)", truncated)
	}
	return err
}
