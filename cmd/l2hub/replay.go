package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/wallclock"
	"l2hub/replay"
)

// newReplayCmd is l2hub replay: its flags are the job's (replay.JobFlags).
func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	f := replay.JobFlags{Job: replay.Job{Version: Version}, ProgressClock: wallclock.Clock{}}
	cmd := &cobra.Command{
		Use:   "replay CAPTURE... [flags]",
		Short: "Re-run captures through the hub and a fault policy in virtual time",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.Run(cmd.Context(), args, stdout, stderr)
		},
	}
	f.Register(cmd.Flags())
	return cmd
}
