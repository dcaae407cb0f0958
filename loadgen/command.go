package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"l2hub/internal/profile"
)

// Command is l2hub bench: the suite's options, and what to do with the
// run.
type Command struct {
	Options
	JSON, Process          bool
	CPUProfile, MemProfile string
	FailOn                 string
}

// Register adds l2hub bench's flags to fs, the options' (Options.Register)
// and the command's own.
func (c *Command) Register(fs *pflag.FlagSet) {
	c.Options.Register(fs)
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON instead of the table")
	fs.BoolVar(&c.Process, "hub-process", false, "run each l2hub target as l2hub serve in a process of its own, as beside QEMU, rather than in the generator's (whose VMs then share no Go scheduler with the hub); CPU/frame counts both processes")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write an allocation profile at the end to `file`")
	fs.StringVar(&c.FailOn, "fail-on", string(FailOnLoss), "exit 1 when `what` fails: loss (a frame lost in, or an error of, an overflow: pause scenario; udp's loss is not judged), targets (any measured target), none")
}

// Run runs the suite the flags describe, its progress and warnings on
// stderr, and writes its report on stdout: the error is the run's, the
// report's write, and the verdict (--fail-on). With --hub-process the
// hub targets run this process's executable as l2hub serve.
func (c *Command) Run(ctx context.Context, stdout, stderr io.Writer) error {
	c.Progress = stderr
	failOn, err := ParseFailOn(c.FailOn)
	if err != nil {
		return err
	}
	if c.Process {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--hub-process: %w", err)
		}
		c.HubProcess = exe
	}
	c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := c.Suite()
	if err != nil {
		return err
	}
	stop, err := profile.Start(c.CPUProfile, c.MemProfile)
	if err != nil {
		return err
	}
	rep, err := s.Run(ctx)
	err = errors.Join(err, stop())
	if rep == nil {
		return err
	}
	// An interrupted run still reports what it finished (marked
	// interrupted), then exits non-zero with the cancellation.
	rep.Evaluate(TargetHubPolicy, TargetHubCapture, c.Transports[0])
	write := rep.WriteTable
	if c.JSON {
		write = rep.WriteJSON
	}
	return errors.Join(write(stdout), err, rep.Verdict(failOn))
}
