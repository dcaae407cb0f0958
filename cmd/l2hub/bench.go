package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/loadgen"
)

// newBenchCmd is l2hub bench: its flags are loadgen.Command's.
func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	var c loadgen.Command
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure l2hub against a direct VM pair and a multicast group",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.Run(cmd.Context(), stdout, stderr)
		},
	}
	c.Register(cmd.Flags())
	return cmd
}
