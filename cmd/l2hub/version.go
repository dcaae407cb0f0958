package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/buildinfo"
	"l2hub/internal/jsondoc"
)

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the VCS revision it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return jsondoc.WriteDocument(stdout, control.Schema, buildinfo.Read())
			}
			return buildinfo.Read().WriteText(stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
