package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/report"
)

// newReportCmd is l2hub report: its flags are report.Flags.
func newReportCmd(stdout io.Writer) *cobra.Command {
	var f report.Flags
	cmd := &cobra.Command{
		Use:   "report CAPTURE",
		Short: "Draw a run as one HTML page: a ladder diagram of its frames, faults, console markers and findings",
		Args:  cli.WantArgs(1, 1, "one CAPTURE", "l2hub report run.pcapng -o run.html", "a VM's console log goes with --console NAME=LOG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.Run(cmd.Context(), args[0], stdout, cmd.ErrOrStderr())
		},
	}
	f.Register(cmd.Flags())
	return cmd
}
