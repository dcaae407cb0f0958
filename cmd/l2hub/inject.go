package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/replay"
)

// newInjectCmd is l2hub inject: its flags are replay.InjectFlags.
func newInjectCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replay.InjectFlags
	cmd := &cobra.Command{
		Use:   "inject CAPTURE --into PORT [flags]",
		Short: "Send a capture's frames into a live port of a running hub, towards its VM",
		Args:  cli.WantArgs(1, 1, "one CAPTURE", "l2hub inject handshake.pcapng --into b", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.Run(cmd.Context(), args[0], stdout, stderr)
		},
	}
	f.Register(cmd.Flags())
	cmd.MarkFlagRequired("into")
	return cmd
}
