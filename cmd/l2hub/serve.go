package main

import (
	"errors"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/procctl"
	"l2hub/serve"
	"l2hub/transport/netstack"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serve.Flags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the hub (the default command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := f.Logger(stderr)
			if err != nil {
				return err
			}
			if f.JSONLogs() {
				// main's stop notice and final error become records of
				// this log, a config error included: stderr stays JSON.
				// They are output, as in text: no --log-level hides them.
				procctl.LogConsoleTo(cmd.Context(), serve.OutputLog(log))
			}
			// A token or policy file that blocks (a FIFO no one writes)
			// must not outlast the first Ctrl-C.
			cfg, err := control.ReadContext(cmd.Context(), f.Config)
			if err != nil {
				return err
			}
			opts, err := f.Options(cfg, stdout, stderr, Version)
			if err != nil {
				return err
			}
			// The virtual peers' gVisor stacks log through the process's
			// one gVisor logger: into this run's log, not glog text on
			// stderr.
			netstack.LogTo(opts.Logger)
			// A reader of stdout or stderr that goes away (Wireshark
			// closed on --capture -, `| head` on the log) costs what it
			// would have read, not the hub: SIGPIPE would end it with no
			// summary and its capture cut short.
			signal.Ignore(syscall.SIGPIPE)
			err = serve.Run(cmd.Context(), cfg, opts)
			switch {
			case errors.Is(err, serve.ErrCheckFailed), errors.Is(err, serve.ErrProbeFailed):
				return &exitError{code: 2, msg: err.Error()}
			case errors.Is(err, serve.ErrProbeNoVerdict):
				return &exitError{code: 3, msg: err.Error()}
			}
			return err
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// serveArgsIn returns the arguments after the command's name when args
// run serve (by name, or l2hub alone), and whether they do.
func serveArgsIn(args []string) (rest []string, serves bool) {
	cmd, rest, err := newRootCmd(io.Discard, io.Discard).Find(args)
	switch {
	case err != nil:
		return nil, false
	case cmd.Name() == "serve", !cmd.HasParent() && len(rest) == 0:
		return rest, true
	}
	return nil, false
}
