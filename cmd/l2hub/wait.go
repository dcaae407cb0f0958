package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/ready"
)

func newWaitCmd(stdout io.Writer) *cobra.Command {
	var (
		readyFile, addr string
		timeout         time.Duration
		asJSON          bool
		tf              control.TokenFlags
	)
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until a hub is ready: every port and the control API bound",
		Long: `Wait until a hub started in the background is ready, then exit 0; exit 1
if it is not ready within --timeout.

With --ready-file, wait for the file l2hub serve --ready-file writes once
every port and the control API are bound (a file left by a hub that has
exited does not count), and print what it says. Otherwise ask the control
API (--control, default ` + control.DefaultAddr() + `) until it answers; a
refusal (a missing or wrong --control-token) ends the wait at once.

Start QEMU only after this returns: QEMU never retries a failed connect=.`,
		Example: `  l2hub serve --ready-file /tmp/hub.ready --port a=tcp:127.0.0.1:7001 &
  l2hub wait --ready-file /tmp/hub.ready && qemu-system-x86_64 ... -netdev stream,id=n0,...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if readyFile != "" {
				info, err := ready.Wait(ctx, readyFile, 50*time.Millisecond)
				if err != nil {
					return notReady(timeout, err)
				}
				if asJSON {
					return writeJSON(stdout, info)
				}
				_, err = fmt.Fprintf(stdout, "l2hub ready: %s\n", info)
				return err
			}
			token, err := tf.Token()
			if err != nil {
				return err
			}
			ports, err := control.NewClient(addr, token).WaitReady(ctx, 50*time.Millisecond)
			if err != nil {
				return notReady(timeout, err)
			}
			if asJSON {
				return writeJSON(stdout, ports)
			}
			fmt.Fprintf(stdout, "l2hub ready: %d ports\n", len(ports))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&readyFile, "ready-file", "", "wait for the ready `file` that l2hub serve --ready-file writes")
	fl.StringVar(&addr, "control", "", "wait for the control API at this address (default "+control.DefaultAddr()+")")
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	fl.BoolVar(&asJSON, "json", false, "print the ready file's content (or the ports) as JSON")
	tf.Register(fl.StringVar)
	cmd.MarkFlagsMutuallyExclusive("ready-file", "control")
	return cmd
}

func notReady(timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("not ready after %s: %w", timeout, err)
	}
	return err
}
