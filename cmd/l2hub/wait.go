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
		Long: `Wait until a hub started in the background is ready, then exit 0; exit 1
if it is not ready within --timeout.

With --ready-file, wait for the file l2hub serve --ready-file writes once
every port and the control API are bound (a file left by a hub that has
exited does not count), and print what it says. A ready file that belongs
to another user (anyone may write one in /tmp) is refused at once: keep it
in a directory of yours ($XDG_RUNTIME_DIR, or one made with mktemp -d).
Otherwise ask the control API (--control, default ` + control.DefaultAddr() + `)
until it answers; a refusal (a missing or wrong --control-token, a hub of
another user) ends the wait at once.

With --pid (the hub's, $! after starting it in the background), only that
hub's readiness counts, or that of a process it started (a wrapper's $!:
timeout, sudo, runuser, go run): a ready file or control API of another
process that still runs is waited past; a hub that exits before it is
ready (a port in use, a bad flag, a ready file or address another hub
holds) ends the wait at once, rather than after --timeout: its own output
says why, and this names the pid that answered meanwhile. $! of a
pipeline (serve ... | tee log &) is its last command's, not the hub's:
write serve ... > >(tee log) & instead. A hub older than this one does not
say its pid over the control API: any answer counts.

Start QEMU only after this returns: QEMU never retries a failed connect=.`,
		Example: `  run=${XDG_RUNTIME_DIR:-$(mktemp -d)}   # a directory only you can write to
  l2hub serve --ready-file "$run/hub.ready" --port a=tcp:127.0.0.1:7001 &
  l2hub wait --ready-file "$run/hub.ready" --pid $! && qemu-system-x86_64 ... -netdev stream,id=n0,...`,
		Args: cobra.NoArgs,
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
