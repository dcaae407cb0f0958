package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/internal/buildinfo"
)

// Version is l2hub's version, recorded in captures.
const Version = buildinfo.Version

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "l2hub:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "l2hub:", err)
		os.Exit(1)
	}
}

// exitError carries an exit status other than 1 (a failed check is 2).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run is the whole command, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	serve := newServeCmd(stdout, stderr)
	root := &cobra.Command{
		Use:   "l2hub",
		Short: "A userspace L2 hub for QEMU VMs: reproducible faults, pcapng capture, replay, protocol checks",
		Long: `l2hub is the network between QEMU virtual machines. VMs attach with their
ordinary -netdev back ends (stream, dgram, socket mcast); l2hub forwards their
frames as a hub or learning switch, applies a seeded fault policy, records one
pcapng of the whole segment, replays captures and checks DSoftBus on the wire.

With no arguments it serves two ports, a and b, on 127.0.0.1:7001 and :7002,
and prints the QEMU flags for each.`,
		Version:       buildinfo.Read().Short(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			serve.SetContext(cmd.Context())
			return serve.RunE(serve, nil)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("l2hub {{.Version}}\n")
	root.SetFlagErrorFunc(suggestFlag)
	root.AddCommand(serve, newQEMUArgsCmd(stdout), newCtlCmd(stdout), newBenchCmd(stdout, stderr))
	root.AddCommand(newReplayCmd(stdout, stderr), newInjectCmd(stdout, stderr))
	root.AddCommand(newCheckCmd(stdout), newCaptureCmd(stdout))
	root.AddCommand(newReportCmd(stdout), newLabCmd(stdout), newVersionCmd(stdout), newWaitCmd(stdout), newWiresharkPluginCmd(stdout))
	return root
}
