package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/progress"
	"l2hub/internal/wallclock"
	"l2hub/replay"
)

// newReplayCmd is l2hub replay: its flags are the job's (replay.JobFlags).
func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replay.JobFlags
	cmd := &cobra.Command{
		Use:   "replay CAPTURE... [flags]",
		Short: "Re-run captures through the hub and a fault policy in virtual time",
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
