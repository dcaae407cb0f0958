package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/report"
)

func newReportCmd(stdout io.Writer) *cobra.Command {
	var (
		f       report.Flags
		out     string
		truncOK bool
	)
	cmd := &cobra.Command{
		Use:   "report CAPTURE",
		Short: "Draw a run as one HTML page: a ladder diagram of its frames, faults, console markers and findings",
		Long: `Draw a capture as one self-contained HTML page (no network needed to view
it): one lifeline per hub port, one arrow per frame from its sender to the
ports that received it, labelled by protocol (ARP, NXSB announce, TCP SYN,
handshake msg1/2/3, record, ...). A frame a rule dropped ends in a cross at
the hub with the rule's reason from the capture comment; a delayed frame's
arrow runs from when it was sent to when it arrived; duplicates, reorders
and corruptions are marked; a partition or a link set down is a band across
the lifelines it cut. Runs of alike frames from one sender (announces, ACKs)
are one arrow with a count, even with other frames between them; click
it to expand. Frame numbers are the
capture's, as Wireshark shows them. Zoom with +/- (or Ctrl+wheel), filter
by port and protocol, click a frame for its bytes and decoded headers.

--console NAME=LOG puts the lines of a VM's console log that start with a
time stamp on port NAME's lifeline: "  2.391 text" or "[ 2.391] text"
(seconds since the log's zero; without brackets, with a fraction: "64
bytes from" and "200 OK" are no stamps) or "2026-01-02T15:04:05.123Z
text" (a stamp with no time zone is read as UTC, with a warning). A
relative stamp counts from the log's "# t0=<RFC 3339>" line (the e2e
harness writes one), else from the capture's start (a lab run starts hub
and clock together); ",offset=DUR" puts the log's zero DUR after the
capture's start instead, and ",match=REGEX" (last, RE2) keeps only the
lines it matches. NAME ends at the first single '=': a port name holding
'=' doubles it (--console 'k==v=a.log' is port "k=v"). Lines without a
stamp are not drawn, and a warning counts them; the kernel's "[ 3.889]"
stamps count from the guest's boot, so without a t0 line they need
",offset=" (a warning says so).

--check PROFILE runs the conformance checker (nexus-v1 or noise-xk): its
findings head the page and are pinned to the frames they cite.

One capture per page: a pair of per-VM files (QEMU's filter-dump) gives
each VM's own view; "l2hub replay a.pcap b.pcap --port a=a.pcap --port
b=b.pcap -o run.pcapng" merges them into one capture to draw.

A capture that breaks part-way (a corrupt block) is drawn up to the break,
and the command then fails with where reading stopped (status 1), as
replay does; so does one cut short (a killed writer), unless
--allow-truncated accepts it. Warnings go to standard error.`,
		Example: `  l2hub report run.pcapng -o run.html
  l2hub report capture.pcapng --check nexus-v1 \
      --console a=node-a.log --console b=node-b.log -o run.html
  l2hub report capture.pcapng --console 'a=a.log,offset=1.5s,match=GUEST:' -o run.html`,
		Args: cli.WantArgs(1, 1, "one CAPTURE", "l2hub report run.pcapng -o run.html", "a VM's console log goes with --console NAME=LOG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("-o: say where to write the page (a file name, or - for standard output)")
			}
			opts, err := f.Options(args[0])
			if err != nil {
				return err
			}
			if err := opts.CheckOutput("-o", out); err != nil {
				return err
			}
			m, err := report.BuildContext(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := m.Write(out, stdout, cmd.ErrOrStderr()); err != nil {
				return err
			}
			for _, w := range m.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "l2hub report: warning: %s: %s\n", args[0], w)
			}
			return m.Failure(args[0], truncOK)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.Consoles, "console", nil, "NAME=LOG[,offset=DUR][,match=REGEX]: a VM's console log on port NAME's lifeline (repeatable)")
	fl.StringVar(&f.Check, "check", "", "run the conformance checker with this profile (nexus-v1 or noise-xk) and pin its findings")
	fl.StringVarP(&out, "output", "o", "", "the HTML file to write (- for standard output)")
	fl.StringVar(&f.Title, "title", "", "the page's title (default: the capture's file name)")
	fl.IntVar(&f.Group, "group", report.DefaultMinGroup, "draw runs of at least this many alike frames as one arrow (a group has 2 or more: 1 means 2; 0 means the default; -1: never)")
	fl.IntVar(&f.HexBytes, "hex-bytes", report.DefaultHexBytes, "bytes of each frame kept for its hex view; 0 means the default")
	fl.IntVar(&f.MaxFrames, "max-frames", report.DefaultMaxFrames, "capture records read (ingress, egress and non-Ethernet ones alike); later ones are left out with a warning; 0 means the default")
	fl.BoolVar(&truncOK, "allow-truncated", false, "a capture cut short (a killed writer) is drawn up to the cut and the command succeeds; without it, it fails after writing the page")
	return cmd
}
