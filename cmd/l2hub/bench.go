package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"l2hub/internal/profile"
	"l2hub/loadgen"
)

// benchFlags are l2hub bench's flags: the suite's options, and what to do
// with the run.
type benchFlags struct {
	loadgen.Options
	json, process          bool
	cpuprofile, memprofile string
	failOn                 string
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure l2hub against a direct VM pair and a multicast group",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runBench(cmd, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	f.Register(fl)
	fl.BoolVar(&f.json, "json", false, "print the report as JSON instead of the table")
	fl.BoolVar(&f.process, "hub-process", false, "run each l2hub target as l2hub serve in a process of its own, as beside QEMU, rather than in the generator's (whose VMs then share no Go scheduler with the hub); CPU/frame counts both processes")
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fl.StringVar(&f.memprofile, "memprofile", "", "write an allocation profile at the end to `file`")
	fl.StringVar(&f.failOn, "fail-on", string(loadgen.FailOnLoss), "exit 1 when `what` fails: loss (a frame lost in, or an error of, an overflow: pause scenario; udp's loss is not judged), targets (any measured target), none")
	return cmd
}

func (f *benchFlags) runBench(cmd *cobra.Command, stdout, stderr io.Writer) error {
	f.Progress = stderr
	failOn, err := loadgen.ParseFailOn(f.failOn)
	if err != nil {
		return err
	}
	if f.process {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--hub-process: %w", err)
		}
		f.HubProcess = exe
	}
	f.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := f.Suite()
	if err != nil {
		return err
	}
	stop, err := profile.Start(f.cpuprofile, f.memprofile)
	if err != nil {
		return err
	}
	rep, err := s.Run(cmd.Context())
	err = errors.Join(err, stop())
	if rep == nil {
		return err
	}
	// An interrupted run still reports what it finished (marked
	// interrupted), then exits non-zero with the cancellation.
	rep.Evaluate(loadgen.TargetHubPolicy, loadgen.TargetHubCapture, f.Transports[0])
	write := rep.WriteTable
	if f.json {
		write = rep.WriteJSON
	}
	return errors.Join(write(stdout), err, rep.Verdict(failOn))
}
