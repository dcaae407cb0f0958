package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/progress"
	"l2hub/internal/wallclock"
	"l2hub/replay"
)

// replayFlags are l2hub replay's flags: most are the job's own fields.
type replayFlags struct {
	job            replay.Job
	mode, progress string
	aging          time.Duration
	faults         filter.Flags
	json, truncOK  bool
}

func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay CAPTURE... [flags]",
		Short: "Re-run captures through the hub and a fault policy in virtual time",
		Long: `Replay captured traffic through the same forwarding core and policy engine
as serve, in virtual time taken from the capture's timestamps, and write what
each port would have received, with the reason for every verdict.

Inputs are pcap or pcapng files: l2hub's own captures (a port per interface;
only the ingress copies are replayed, and the capture's start time and seed
line the policy up with the live run, so replaying a run's capture with its
policy reproduces its decisions, and the rule, partition and link changes
made through the control API while it ran, which the capture records, are
made again at their run times, as are frames l2hub inject put on a port),
QEMU filter-dump files and tcpdump files.
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
			return runReplay(cmd, &f, args, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.job.Output, "output", "o", "", "write what each port received (and sent) to `file` (pcapng; classic pcap if it ends in .pcap)")
	fl.StringVar(&f.job.Policy, "policy", "", "fault policy `file` (YAML; see filter/POLICY.md)")
	fl.StringArrayVarP(&f.job.Ports, "port", "p", nil, "NAME=FILE names a pcap file's port; NAME=MAC sends a source MAC's frames to port NAME (repeatable)")
	fl.StringVar(&f.mode, "mode", "", "forwarding mode: switch (the default) or hub; default the capture's when it records one")
	fl.DurationVar(&f.aging, "aging", 0, fmt.Sprintf("switch mode: forget a MAC after this long without traffic (default the capture's, else %s)", hub.DefaultAgingTime))
	fl.StringVar(&f.job.Points, "points", "both", "what the output records: ingress, egress or both")
	fl.BoolVar(&f.json, "json", false, "print the summary as JSON")
	fl.BoolVar(&f.job.IgnoreEdits, "ignore-edits", false, "leave out the policy edits (ctl rule, partition, heal, link) an l2hub capture records: run the policy as given throughout")
	fl.BoolVar(&f.truncOK, "allow-truncated", false, "an input cut short (a killed writer) is replayed up to the cut and the command succeeds; without it, it fails after replaying")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	faults := flag.NewFlagSet("faults", flag.ContinueOnError)
	f.faults.Register(faults)
	fl.AddGoFlagSet(faults)
	return cmd
}

func runReplay(cmd *cobra.Command, f *replayFlags, args []string, stdout, stderr io.Writer) error {
	job := f.job
	job.Files, job.Faults, job.Version = args, &f.faults, Version
	job.Notes = func(n string) { fmt.Fprintln(stderr, "l2hub replay:", n) }
	if cmd.Flags().Changed("mode") {
		if _, err := hub.ParseMode(f.mode); err != nil {
			return fmt.Errorf("--mode: %w", err)
		}
		job.Mode = f.mode
	}
	if cmd.Flags().Changed("aging") {
		job.Aging = &f.aging
	}
	bar := progress.New(stderr, f.progress, wallclock.Clock{})
	if bar != nil {
		job.Progress = func(p replay.Progress) { bar.Update(p.Frames, p.Done, p.Total) }
	}
	res, err := job.Run(cmd.Context())
	if bar != nil {
		bar.Done()
	}
	if res != nil {
		var werr error
		if f.json {
			out := struct {
				Policy   string `json:"policy,omitempty"`
				Seed     uint64 `json:"seed,omitempty"`
				SeedFrom string `json:"seed_from,omitempty"`
				Mode     string `json:"mode"`
				*replay.Result
			}{Mode: res.Mode.String(), SeedFrom: res.SeedFrom, Result: res.Result}
			if pol := res.Policy; pol != nil {
				out.Policy, out.Seed = pol.Name(), pol.Seed()
			}
			werr = writeJSON(stdout, out)
		} else {
			if pol := res.Policy; pol != nil {
				fmt.Fprintf(stdout, "policy %s, seed %d (from %s); %s mode\n", pol.Name(), pol.Seed(), res.SeedFrom, res.Mode)
			}
			werr = res.WriteSummary(stdout)
		}
		res.WriteInputErrors(prefixed{stderr, "l2hub replay: "})
		for _, e := range res.Edits {
			if e.Err != "" {
				fmt.Fprintf(stderr, "l2hub replay: warning: policy edit %s; the decisions after it may differ from the live run's\n", e)
			}
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if ierr := res.Err(); ierr != nil {
		return fmt.Errorf("replay stopped early on bad input (the frames before it were replayed): %w", ierr)
	}
	for _, in := range res.Inputs {
		if in.Err != nil && in.Err.Truncated() && !f.truncOK {
			return fmt.Errorf("%w (the %d frames before the cut were replayed; --allow-truncated accepts a capture cut short)", in.Err, in.Packets)
		}
	}
	return nil
}

// prefixed writes each line with a prefix.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	var out []byte
	for line := range bytes.Lines(b) {
		out = append(append(out, p.prefix...), line...)
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
