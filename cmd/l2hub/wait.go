package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/cli"
	"l2hub/internal/ready"
)

func newWaitCmd(stdout io.Writer) *cobra.Command {
	var (
		readyFile, addr string
		timeout         time.Duration
		asJSON          bool
		pid             int
		tf              control.TokenFlags
	)
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until a hub is ready: every port and the control API bound",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if pid != 0 {
				var stop func()
				if ctx, stop = ready.WatchPID(ctx, pid); ctx.Err() != nil {
					return context.Cause(ctx)
				}
				defer stop()
			}
			// What the hub says it is ready with: its ready file, or its
			// ports.
			var doc any
			var text string
			if readyFile != "" {
				info, err := ready.WaitFor(ctx, readyFile, pid, 50*time.Millisecond)
				if err != nil {
					return control.NotReady(ctx, timeout, err)
				}
				doc, text = info, info.String()
			} else {
				cl, err := control.Dial(ctx, addr, &tf)
				if err != nil {
					return err
				}
				ports, err := cl.WaitReadyPID(ctx, 50*time.Millisecond, pid)
				if err != nil {
					return control.NotReady(ctx, timeout, err)
				}
				doc, text = ports, fmt.Sprintf("%d ports", len(ports))
				if len(ports) == 1 {
					text = "1 port"
				}
			}
			if asJSON {
				return cli.WriteJSON(stdout, doc)
			}
			_, err := fmt.Fprintf(stdout, "l2hub ready: %s\n", text)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&readyFile, "ready-file", "", "wait for the ready `file` that l2hub serve --ready-file writes")
	fl.StringVar(&addr, "control", "", "wait for the control API at this address: "+control.AddrForms())
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fl.BoolVar(&asJSON, "json", false, "print the ready file's content (or the ports) as JSON")
	fl.IntVar(&pid, "pid", 0, "the hub's process (`PID`, $! after serve &, or a wrapper's that started it): only its readiness counts; fail at once if it exits before it is ready")
	tf.Register(fl.StringVar)
	cmd.MarkFlagsMutuallyExclusive("ready-file", "control")
	return cmd
}
