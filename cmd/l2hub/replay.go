package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/replay"
)

type replayFlags struct {
	output   string
	policy   string
	ports    []string
	mode     string
	aging    time.Duration
	points   string
	progress string
	faults   filter.Flags
}

func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replayFlags
	var faults *flag.FlagSet
	cmd := &cobra.Command{
		Use:   "replay CAPTURE... [flags]",
		Short: "Re-run captures through the hub and a fault policy in virtual time",
		Long: `Replay captured traffic through the same forwarding core and policy engine
as serve, in virtual time taken from the capture's timestamps, and write what
each port would have received, with the reason for every verdict.

Inputs are pcap or pcapng files: l2hub's own captures (a port per interface;
only the ingress copies are replayed, and the capture's start time and seed
line the policy up with the live run, so replaying a run's capture with its
policy reproduces its decisions), QEMU filter-dump files and tcpdump files.
A classic pcap gives one port per file, named after the file or with
--port NAME=FILE; --port NAME=MAC sends a source MAC's frames to port NAME.
A single such file and no --port give one port per source MAC, named m and
the MAC in hex (m52540012340a). A policy naming a port the replay does not
have is refused, as serve refuses it.
The per-VM files of a two-VM run record each frame twice or three times
(sent by one VM, received by the other, and the multicast back end's echo):
replay recognises the copies and replays each frame once.

The seed is --seed if given, else the capture's (when its run had a policy),
else the policy file's. The same inputs, policy and seed give a byte-identical
output file.`,
		Example: `  l2hub replay run.pcapng --policy what-if.yaml -o what-if.pcapng
  l2hub replay packets-A.pcap packets-B.pcap --port a=packets-A.pcap --port b=packets-B.pcap \
      --loss 'a->b=10%' --seed 7 -o out.pcapng
  l2hub replay segment.pcap --port a=52:54:00:12:34:0a --port b=52:54:00:12:34:0b --policy p.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, &f, faults, args, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "", "write what each port received (and sent) to `file` (pcapng; classic pcap if it ends in .pcap)")
	fl.StringVar(&f.policy, "policy", "", "fault policy `file` (YAML; see filter/POLICY.md)")
	fl.StringArrayVarP(&f.ports, "port", "p", nil, "NAME=FILE names a pcap file's port; NAME=MAC sends a source MAC's frames to port NAME (repeatable)")
	fl.StringVar(&f.mode, "mode", "", "forwarding mode: switch (the default) or hub; default the capture's when it records one")
	fl.DurationVar(&f.aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default the capture's, else %s)", hub.DefaultAgingTime))
	fl.StringVar(&f.points, "points", "both", "what the output records: ingress, egress or both")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	faults = flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fl.AddGoFlagSet(faults)
	return cmd
}

func runReplay(cmd *cobra.Command, f *replayFlags, faults *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	cfg, err := replayConfig(f, args)
	if err != nil {
		return err
	}
	r, err := replay.Open(cfg)
	if err != nil {
		return err
	}
	for _, n := range r.Notes() {
		fmt.Fprintln(stderr, "l2hub replay:", n)
	}
	meta, hasMeta := r.Meta()

	// The seed: --seed, else the capture's when its run had a policy (the
	// capture header then carries its hash), else the policy file's.
	seedFrom := "policy"
	if cmd.Flags().Changed("seed") {
		seedFrom = "--seed"
	} else if hasMeta && meta.PolicyHash != "" && (f.policy != "" || f.faults.Given()) {
		if err := faults.Set("seed", strconv.FormatUint(meta.Seed, 10)); err != nil {
			return err
		}
		seedFrom = "capture"
	}
	var pol *filter.Policy
	if f.policy != "" || f.faults.Given() {
		if pol, err = f.faults.Load(f.policy, r.Ports()); err != nil {
			if r.PerMAC() {
				return fmt.Errorf("%w\n(one capture without --port NAME=FILE or NAME=MAC: replay made a port per source MAC; name them with --port NAME=MAC)", err)
			}
			return err
		}
	}

	mode := hub.ModeSwitch
	switch {
	case cmd.Flags().Changed("mode"):
		if mode, err = hub.ParseMode(f.mode); err != nil {
			return fmt.Errorf("--mode: %w", err)
		}
	case hasMeta && meta.Extra["mode"] != "":
		if mode, err = hub.ParseMode(meta.Extra["mode"]); err != nil {
			return fmt.Errorf("capture header: mode: %w", err)
		}
	}
	aging := f.aging
	if !cmd.Flags().Changed("aging") && hasMeta && meta.Extra["aging"] != "" {
		if aging, err = time.ParseDuration(meta.Extra["aging"]); err != nil {
			return fmt.Errorf("capture header: aging: %w", err)
		}
	}
	rc := replay.RunConfig{Mode: mode, AgingTime: aging}
	if pol != nil {
		rc.Policy = pol
	}
	if f.output != "" {
		points, err := capture.ParsePoints(f.points)
		if err != nil {
			return fmt.Errorf("--points: %w", err)
		}
		out := capture.Config{
			Path:   f.output,
			Format: capture.FormatForPath(f.output),
			Points: points,
			Meta: capture.Meta{
				Version: Version,
				Extra:   map[string]string{"replay-of": inputNames(cfg.Inputs), "mode": mode.String()},
			},
		}
		if aging > 0 {
			out.Meta.Extra["aging"] = aging.String()
		}
		if pol != nil {
			out.Meta.Seed = pol.Seed()
			out.Meta.PolicyHash = pol.Hash()
		}
		rc.Capture = &out
	}
	bar := newProgressBar(stderr, f.progress)
	if bar != nil {
		rc.Progress = bar.update
	}
	res, err := r.Run(cmd.Context(), rc)
	if bar != nil {
		bar.done()
	}
	if res != nil {
		if pol != nil {
			fmt.Fprintf(stdout, "policy %s, seed %d (from %s); %s mode\n", pol.Name(), pol.Seed(), seedFrom, mode)
		}
		if werr := res.WriteSummary(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if ierr := res.Err(); ierr != nil {
		return fmt.Errorf("replay stopped early on bad input (the frames before it were replayed): %w", ierr)
	}
	return nil
}

// replayConfig turns the arguments and --port values into inputs and MAC
// mappings: NAME=MAC maps a MAC, NAME=FILE names a file's port (adding the
// file if it is not also an argument).
func replayConfig(f *replayFlags, args []string) (replay.Config, error) {
	var cfg replay.Config
	for _, a := range args {
		cfg.Inputs = append(cfg.Inputs, replay.Input{Path: a})
	}
	for _, p := range f.ports {
		mp, isMAC, err := replay.ParseMACPort(p)
		if err != nil {
			return cfg, fmt.Errorf("--port: %w", err)
		}
		if isMAC {
			cfg.MACs = append(cfg.MACs, mp)
			continue
		}
		name, file, _ := strings.Cut(p, "=")
		found := false
		for i := range cfg.Inputs {
			if sameFile(cfg.Inputs[i].Path, file) {
				cfg.Inputs[i].Port, found = name, true
			}
		}
		if !found {
			cfg.Inputs = append(cfg.Inputs, replay.Input{Path: file, Port: name})
		}
	}
	if len(cfg.Inputs) == 0 {
		return cfg, fmt.Errorf("no captures to replay: give files as arguments or with --port NAME=FILE")
	}
	return cfg, nil
}

func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func inputNames(ins []replay.Input) string {
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = filepath.Base(in.Path)
	}
	return strings.Join(names, ",")
}

// progressBar draws one self-overwriting line on a terminal, at most ten
// times a second.
type progressBar struct {
	w     io.Writer
	clock wallclock.Clock
	start time.Time
	last  time.Time
	drawn bool
}

// newProgressBar returns a bar for mode "always", or "auto" when w is a
// terminal; nil otherwise.
func newProgressBar(w io.Writer, mode string) *progressBar {
	switch mode {
	case "never":
		return nil
	case "always":
	default:
		f, ok := w.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil
		}
	}
	b := &progressBar{w: w}
	b.start = b.clock.Now()
	return b
}

func (b *progressBar) update(p replay.Progress) {
	now := b.clock.Now()
	if b.drawn && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last, b.drawn = now, true
	const width = 30
	line := fmt.Sprintf("%d frames", p.Frames)
	if el := now.Sub(b.start).Seconds(); el > 0 {
		line += fmt.Sprintf(", %.0f frames/s", float64(p.Frames)/el)
	}
	if p.Total > 0 {
		frac := min(float64(p.Done)/float64(p.Total), 1)
		n := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %s", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, line)
	}
	fmt.Fprintf(b.w, "\r%s\x1b[K", line)
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}
