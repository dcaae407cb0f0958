package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/capture"
	"l2hub/internal/cli"
)

func newCaptureCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Work on capture files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "repair FILE...",
		Short: "Trim the cut last block a killed hub can leave, so that every tool reads the file",
		Args:  cli.WantArgs(1, -1, "the capture FILEs to repair", "l2hub capture repair run.pcapng", ""),
		RunE: func(_ *cobra.Command, args []string) error {
			var errs []error
			for _, path := range args {
				rep, err := capture.Repair(path)
				switch {
				case err != nil:
					errs = append(errs, err)
				default:
					fmt.Fprintf(stdout, "%s: %s\n", path, rep)
				}
			}
			return errors.Join(errs...)
		},
	})
	return cmd
}
