package replay

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/pflag"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/jsondoc"
	"l2hub/internal/progress"
)

// JobFlags are l2hub replay's flags: the job's, and what to do with its
// result.
type JobFlags struct {
	Job
	JSON, TruncOK bool
	ProgressBar   string // auto, always or never
	// ProgressClock times the progress bar: the wall clock in the command
	// (an offline replay reads none: its time is the capture's). Nil draws
	// no bar, whatever ProgressBar says.
	ProgressClock hub.Clock
	mode          string
	aging         time.Duration
	policies      []string
	faults        filter.Flags
	changed       func(string) bool
}

// Register adds replay's flags to fs.
func (f *JobFlags) Register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Output, "output", "o", "", "write what each port received (and sent) to `file` (pcapng; classic pcap if it ends in .pcap)")
	fs.StringArrayVar(&f.policies, "policy", nil, "fault policy `file` (YAML; see filter/POLICY.md); repeat it for a run whose ctl set-policy replaced its policy: "+
		"the first is the run's own (the fault flags and --seed apply to it), and each is put in force where a capture header records the run had it")
	fs.StringArrayVarP(&f.Ports, "port", "p", nil, "NAME=FILE names a pcap file's port; NAME=MAC sends a source MAC's frames to port NAME (repeatable)")
	fs.StringVar(&f.mode, "mode", "", "forwarding mode: switch (the default) or hub; default the capture's when it records one")
	fs.DurationVar(&f.aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default, or 0: the capture's, else %s)", hub.DefaultAgingTime))
	fs.StringVar(&f.Points, "points", "both", "what the output records: ingress, egress or both")
	fs.BoolVar(&f.JSON, "json", false, "print the summary as JSON")
	fs.BoolVar(&f.IgnoreEdits, "ignore-edits", false, "leave out the policy edits (ctl rule, partition, heal, link) an l2hub capture records: run the policy as given throughout")
	fs.BoolVar(&f.Drain, "drain", false, "deliver the delayed copies the hub still holds where the capture of a hub that stopped ends (the live hub discarded them, and without it so does a replay of the run with its policies; a what-if delivers them anyway)")
	fs.BoolVar(&f.TruncOK, "allow-truncated", false, "an input cut short (a killed writer) is replayed up to the cut and the command succeeds; without it, it fails after replaying")
	fs.StringVar(&f.ProgressBar, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fs.AddGoFlagSet(faults)
	f.changed = fs.Changed
}

// Resolve finishes the job once the flags are parsed: the files, the
// quick fault flags, and the mode and aging when given. It checks the
// flags (Job.Check) before anything is read or written.
func (f *JobFlags) Resolve(files []string) (*Job, error) {
	job := f.Job
	job.Files, job.Faults = files, &f.faults
	if len(f.policies) > 0 {
		job.Policy, job.Policies = f.policies[0], f.policies[1:]
	}
	if f.changed != nil && f.changed("mode") {
		if _, err := hub.ParseMode(f.mode); err != nil {
			return nil, fmt.Errorf("--mode: %w", err)
		}
		job.Mode = f.mode
	}
	if f.changed != nil && f.changed("aging") {
		job.Aging = &f.aging
	}
	if err := job.Check(); err != nil {
		return nil, err
	}
	return &job, nil
}

// Run is `l2hub replay` once its flags are parsed: the job on files
// (Resolve), its notes and progress bar (--progress) on stderr, its
// summary on stdout (JobResult.Report), and the run's error or else its
// failure (JobResult.Failure). f.Version is recorded in the output's
// header.
func (f *JobFlags) Run(ctx context.Context, files []string, stdout, stderr io.Writer) error {
	if err := progress.CheckMode(f.ProgressBar); err != nil {
		return err
	}
	job, err := f.Resolve(files)
	if err != nil {
		return err
	}
	job.Notes = func(n string) { fmt.Fprintln(stderr, "l2hub replay:", n) }
	var bar *progress.Bar
	if f.ProgressClock != nil {
		bar = progress.New(stderr, f.ProgressBar, f.ProgressClock)
	}
	if bar != nil {
		job.Progress = func(p Progress) { bar.Update(p.Frames, p.Done, p.Total) }
	}
	res, err := job.Run(ctx)
	if bar != nil {
		bar.Done()
	}
	if res != nil {
		if werr := res.Report(stdout, stderr, f.JSON); err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	return res.Failure(f.TruncOK)
}

// InjectFlags are l2hub inject's flags.
type InjectFlags struct {
	Into, Control string
	Token         control.TokenFlags
	JSON, TruncOK bool
	speed         float64
	flood         bool
	pps, bps      string
	loop          int
	maxGap        time.Duration
	from, fromMAC string
	rewriteMAC    []string
	rewriteIP     []string
	changed       func(string) bool
}

// Register adds inject's flags to fs; --into is required.
func (f *InjectFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Into, "into", "", "the `port` whose VM receives the frames (required)")
	fs.StringVar(&f.Control, "control", "", "the hub's control address: "+control.AddrForms())
	f.Token.Register(fs.StringVar)
	fs.Float64Var(&f.speed, "speed", 1, "multiple of the recorded timing; 0 sends as fast as possible")
	fs.BoolVar(&f.flood, "flood", false, "send as fast as possible (same as --speed 0)")
	fs.StringVar(&f.pps, "pps", "", "send at a fixed `rate` in frames per second (e.g. 500, 10k)")
	fs.StringVar(&f.bps, "bps", "", "send at a fixed `rate` in bits per second (e.g. 64k, 10M)")
	fs.IntVar(&f.loop, "loop", 1, "send the capture this many times")
	fs.DurationVar(&f.maxGap, "max-gap", 0, fmt.Sprintf("in recorded timing, shorten every wait between two frames longer than this to it; 0 keeps the recorded gaps and refuses a wait of more than %s", MaxWait))
	fs.StringVar(&f.from, "from", "", "only the frames that `port` sent (an l2hub capture's interface, or a file's port)")
	fs.StringVar(&f.fromMAC, "from-mac", "", "only the frames with this source `MAC`")
	fs.StringArrayVar(&f.rewriteMAC, "rewrite-mac", nil, "rewrite MAC `OLD=NEW` (Ethernet and ARP; repeatable)")
	fs.StringArrayVar(&f.rewriteIP, "rewrite-ip", nil, "rewrite IP address `OLD=NEW` (IPv4 or IPv6), fixing checksums (repeatable)")
	fs.BoolVar(&f.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&f.TruncOK, "allow-truncated", false, "a capture cut short (a killed writer) is sent up to the cut and the command succeeds; without it, it fails after sending")
	f.changed = fs.Changed
}

// Run is `l2hub inject` once its flags are parsed: the capture at path
// sent into the port --into of the hub --control names (RunInject), its
// report on stdout (--json: a document) and its warnings on stderr.
func (f *InjectFlags) Run(ctx context.Context, path string, stdout, stderr io.Writer) error {
	// A bad --control is said first, before the flags and the capture
	// (control.Dial checks it again, for its other callers).
	if err := control.CheckAddrFlag(f.Control); err != nil {
		return err
	}
	cfg, err := f.Config(path)
	if err != nil {
		return err
	}
	// A capture that cannot be read is said before the hub is asked about
	// the port, and with no report of nothing sent.
	if err := CheckInjectCapture(path); err != nil {
		return err
	}
	cl, err := control.Dial(ctx, f.Control, &f.Token)
	if err != nil {
		return err
	}
	return RunInject(ctx, cl, f.Into, cfg, f.TruncOK, InjectOutput{
		Report: func(rep *InjectReport) {
			if f.JSON {
				jsondoc.WriteDocument(stdout, control.Schema, rep)
			} else {
				fmt.Fprintf(stdout, "inject %s into %s (%s): %s\n", path, f.Into, cfg.Pacing, rep)
			}
		},
		Warn: func(w string) { fmt.Fprintln(stderr, "l2hub inject: warning:", w) },
	})
}

// Config is the injection of the capture at path the parsed flags ask for.
func (f *InjectFlags) Config(path string) (InjectConfig, error) {
	cfg := InjectConfig{Input: Input{Path: path}, From: f.from, Loop: f.loop}
	if f.loop < 1 {
		return cfg, fmt.Errorf("--loop %d: want 1 or more", f.loop)
	}
	changed := f.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	var err error
	if cfg.Pacing, err = ParsePacing(changed, f.speed, f.flood, f.pps, f.bps); err != nil {
		return cfg, err
	}
	switch {
	case f.maxGap < 0:
		return cfg, fmt.Errorf("--max-gap %s: must not be negative", f.maxGap)
	case f.maxGap > 0 && cfg.Pacing.Speed == 0:
		return cfg, fmt.Errorf("--max-gap shortens the recorded timing's gaps: at a fixed rate (--pps, --bps) or as fast as possible (--flood, --speed 0) there are none")
	}
	cfg.Pacing.MaxGap = f.maxGap
	if f.fromMAC != "" {
		hw, err := net.ParseMAC(f.fromMAC)
		switch {
		case err != nil:
			return cfg, fmt.Errorf("--from-mac %q: not a MAC address", f.fromMAC)
		case len(hw) != 6: // net.ParseMAC takes EUI-64 and 20-byte InfiniBand addresses too
			what := fmt.Sprintf("%d bytes", len(hw))
			if len(hw) == 8 {
				what = "an EUI-64 (8 bytes)"
			}
			return cfg, fmt.Errorf("--from-mac %q: %s, not an Ethernet MAC (6)", f.fromMAC, what)
		}
		mac := [6]byte(hw)
		cfg.FromMAC = &mac
	}
	cfg.Rewrite, err = NewRewriter(f.rewriteMAC, f.rewriteIP)
	return cfg, err
}
