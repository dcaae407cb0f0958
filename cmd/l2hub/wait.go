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
			if readyFile != "" {
				info, err := ready.WaitFor(ctx, readyFile, pid, 50*time.Millisecond)
				if err != nil {
					return control.NotReady(ctx, timeout, err)
				}
				if asJSON {
					return cli.WriteJSON(stdout, info)
				}
				_, err = fmt.Fprintf(stdout, "l2hub ready: %s\n", info)
				return err
			}
			if err := checkControlFlag(addr); err != nil {
				return err
			}
			token, err := tf.TokenContext(ctx)
			if err != nil {
				return err
			}
			ports, err := control.NewClient(addr, token).WaitReadyPID(ctx, 50*time.Millisecond, pid)
			if err != nil {
				return control.NotReady(ctx, timeout, err)
			}
			if asJSON {
				return cli.WriteJSON(stdout, ports)
			}
			if len(ports) == 1 {
				fmt.Fprintln(stdout, "l2hub ready: 1 port")
			} else {
				fmt.Fprintf(stdout, "l2hub ready: %d ports\n", len(ports))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&readyFile, "ready-file", "", "wait for the ready `file` that l2hub serve --ready-file writes")
	fl.StringVar(&addr, "control", "", "wait for the control API at this address: "+controlForms)
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fl.BoolVar(&asJSON, "json", false, "print the ready file's content (or the ports) as JSON")
	fl.IntVar(&pid, "pid", 0, "the hub's process (`PID`, $! after serve &, or a wrapper's that started it): only its readiness counts; fail at once if it exits before it is ready")
	tf.Register(fl.StringVar)
	cmd.MarkFlagsMutuallyExclusive("ready-file", "control")
	return cmd
}
