package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

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
--rewrite-ip aim a recorded exchange at another VM, fixing IPv4, TCP, UDP and
ICMP checksums.

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
	fl.StringArrayVar(&f.rewriteIP, "rewrite-ip", nil, "rewrite IPv4 address `OLD=NEW`, fixing checksums (repeatable)")
	cmd.MarkFlagRequired("into")
	return cmd
}

func runInject(cmd *cobra.Command, f injectFlags, path string, stdout, stderr io.Writer) error {
	changed := cmd.Flags().Changed
	cfg := replay.InjectConfig{Input: replay.Input{Path: path}, From: f.from, Loop: f.loop}
	if f.loop < 1 {
		return fmt.Errorf("--loop %d: want 1 or more", f.loop)
	}
	paces := 0
	for _, name := range []string{"flood", "pps", "bps"} {
		if changed(name) {
			paces++
		}
	}
	if changed("speed") && paces > 0 || paces > 1 {
		return errors.New("give one of --speed, --flood, --pps and --bps")
	}
	var err error
	switch {
	case f.flood:
	case changed("pps"):
		if cfg.Pacing.PPS, err = parseRate(f.pps); err != nil {
			return fmt.Errorf("--pps: %w", err)
		}
	case changed("bps"):
		if cfg.Pacing.BPS, err = parseRate(f.bps); err != nil {
			return fmt.Errorf("--bps: %w", err)
		}
	default:
		cfg.Pacing.Speed = f.speed
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
	client := control.NewClient(f.control, token)
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	ports, err := client.Ports(ctx)
	if err != nil {
		return fmt.Errorf("is a hub running? %w", err)
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name
	}
	i := slices.Index(names, f.into)
	if i < 0 {
		return fmt.Errorf("--into %q: the hub has no such port (ports: %s)", f.into, strings.Join(names, ", "))
	}
	if !ports[i].Attached {
		return fmt.Errorf("--into %q: no VM is attached to port %s, so every frame would be dropped (l2hub ctl ports shows its peer)", f.into, f.into)
	}
	dropsBefore := ports[i].Stats.Drops

	// The frames go over one streaming request, each as it falls due.
	var rep *replay.InjectReport
	var ierr error
	res, herr := client.InjectStream(ctx, f.into, func(send func([]byte) error) {
		rep, ierr = replay.Inject(ctx, cfg, send)
	})
	if rep != nil {
		fmt.Fprintf(stdout, "inject %s into %s (%s): %s\n", path, f.into, cfg.Pacing, rep)
		if rep.Input != nil {
			fmt.Fprintf(stderr, "l2hub inject: warning: %v; the frames before it were sent\n", rep.Input)
		}
	}
	switch {
	case herr != nil:
		return fmt.Errorf("inject into %q: %w", f.into, herr)
	case ierr != nil:
		return ierr
	case rep != nil && res.Frames != rep.Frames:
		return fmt.Errorf("inject into %q: the hub took %d of %d frames", f.into, res.Frames, rep.Frames)
	}
	if err := reportInjectDrops(ctx, client, f.into, dropsBefore, stderr); err != nil {
		return err
	}
	if rep != nil && rep.Input != nil && !rep.Input.Truncated() {
		return rep.Input
	}
	return nil
}

// reportInjectDrops says which of port's drop counters rose while frames
// were injected (they count every frame for the port, injected or
// forwarded), and fails when frames found no VM: the VM went away.
func reportInjectDrops(ctx context.Context, client *control.Client, port string, before map[string]uint64, stderr io.Writer) error {
	ports, err := client.Ports(ctx)
	if err != nil {
		return fmt.Errorf("inject into %q: after sending: %w", port, err)
	}
	i := slices.IndexFunc(ports, func(p control.PortStatus) bool { return p.Name == port })
	if i < 0 {
		return fmt.Errorf("inject into %q: the port is gone", port)
	}
	after := ports[i].Stats.Drops
	var rose []string
	for _, r := range slices.Sorted(maps.Keys(after)) {
		if n := after[r] - before[r]; n > 0 {
			rose = append(rose, fmt.Sprintf("%s=%d", r, n))
		}
	}
	if len(rose) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "l2hub inject: warning: port %s dropped frames while injecting: %s\n", port, strings.Join(rose, " "))
	if n := after["port-down"] - before["port-down"]; n > 0 {
		return fmt.Errorf("inject into %q: %d frames found no VM on the port (port-down): its VM went away", port, n)
	}
	return nil
}

// parseRate parses a positive rate with an optional SI suffix: 500, 1.5k,
// 10M, 1G.
func parseRate(s string) (float64, error) {
	mult := 1.0
	t := strings.TrimSpace(s)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'M':
			mult, t = 1e6, t[:n-1]
		case 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("%q: want a positive number with an optional k, M or G suffix", s)
	}
	return v * mult, nil
}
