package main

import (
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/lab"
)

// newLabCmd is l2hub lab: its flags are lab.Command's.
func newLabCmd(stdout io.Writer) *cobra.Command {
	c := lab.Command{Version: Version, Out: stdout}
	cmd := &cobra.Command{
		Use:   "lab FILE",
		Short: "Run a multi-VM experiment declared in one file: hub, VMs, markers, phases, faults",
		Args:  cli.WantArgs(1, 1, "the lab FILE", "l2hub lab pair.yaml", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			// As serve: a reader of the output that goes away must not end
			// the run before its QEMUs are stopped and its summary written.
			signal.Ignore(syscall.SIGPIPE)
			c.File = args[0]
			c.NoJUnit = func(err error) { fmt.Fprintf(cmd.ErrOrStderr(), "l2hub: junit.xml: %v\n", err) }
			verdict, err := c.Run(cmd.Context())
			if err != nil {
				return err
			}
			if verdict != nil {
				return &exitError{code: 1, msg: verdict.Error()} // the lab ran and failed
			}
			return nil
		},
	}
	c.Register(cmd.Flags())
	return cmd
}
