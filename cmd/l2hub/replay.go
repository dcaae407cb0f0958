package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/progress"
	"l2hub/internal/wallclock"
	"l2hub/replay"
)

// replayFlags are l2hub replay's flags: most are the job's own fields.
func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replay.JobFlags
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
output file.

A run that replaced its policy with ctl set-policy wrote a new file at each
(run-0001.pcapng), whose header records the new policy and when it took over.
Give --policy once for each policy the run had, the run's own first: replaying
the run's files in order, each policy is put in force where a header records
the run had it, afresh and on the same hub (its learned MACs, its delayed
frames), as the live hub did, which reproduces every decision.
Whenever its decisions are not all the run's (another policy, none, a
set-policy to a policy it was not given, edits the run made under another
policy, a file the run started mid-way replayed without the ones before it, a
policy over a capture with no l2hub header, such as a classic pcap), it says
so on stderr; so it does for frames cut short by a snaplen (replayed at their
length on the wire), records missing from an l2hub capture and headers
another tool rewrote. --json carries every such note in notes, and what_if.
An input with only egress copies replays nothing and fails.

A capture of a hub that stopped, replayed with the run's policies, ends the
replay where it ends: the frames a delay still holds then, which the live hub
discarded as it stopped, are discarded too (--drain delivers them), and the
ports' counters (rx, tx, and the drops a replay decides: policy, reflect,
split-horizon, delay-full) are compared with the live hub's, which the
capture's last statistics record; a port whose live queue dropped copies
(queue-full, stalled, backlog-full), which a replay without queues sends, is
compared on tx plus them, with a note. A what-if (another policy, a replay's
output) delivers every delayed frame: when its hub would have stopped is
unknown.
-o - (or /dev/stdout) writes the output to standard output, and the summary
to stderr. An input that can be read only once (a pipe, <(…), /dev/stdin) is
read first into a temporary file in $TMPDIR, unlinked as soon as it is made,
of at most 4 GiB each ($TMPDIR may be in RAM), once it starts as a pcap or pcapng file does; a block device
or a terminal is refused, and so is one capture given twice (a copy, a link).`,
		Example: `  l2hub replay run.pcapng --policy what-if.yaml -o what-if.pcapng
  l2hub replay run.pcapng run-0001.pcapng --policy p1.yaml --policy p2.yaml -o again.pcapng
  l2hub replay packets-A.pcap packets-B.pcap --port a=packets-A.pcap --port b=packets-B.pcap \
      --loss 'a->b=10%' --seed 7 -o out.pcapng
  l2hub replay segment.pcap --port a=52:54:00:12:34:0a --port b=52:54:00:12:34:0b --policy p.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, &f, args, stdout, stderr)
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

func runReplay(cmd *cobra.Command, f *replay.JobFlags, args []string, stdout, stderr io.Writer) error {
	if err := progress.CheckMode(f.ProgressBar); err != nil {
		return err
	}
	job, err := f.Resolve(args)
	if err != nil {
		return err
	}
	job.Version = Version
	job.Notes = func(n string) { fmt.Fprintln(stderr, "l2hub replay:", n) }
	bar := progress.New(stderr, f.ProgressBar, wallclock.Clock{})
	if bar != nil {
		job.Progress = func(p replay.Progress) { bar.Update(p.Frames, p.Done, p.Total) }
	}
	res, err := job.Run(cmd.Context())
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
