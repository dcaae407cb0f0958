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
		Args:  cli.WantArgs(1, 1, "one CAPTURE", "l2hub report run.pcapng -o run.html", "a VM's console log goes with --console NAME=LOG"),
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
