package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/control"
)

// newWaitCmd is l2hub wait: its flags are control.WaitFlags.
func newWaitCmd(stdout io.Writer) *cobra.Command {
	var f control.WaitFlags
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until a hub is ready: every port and the control API bound",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.Run(cmd.Context(), stdout)
		},
	}
	f.Register(cmd.Flags())
	return cmd
}
