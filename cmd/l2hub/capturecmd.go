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
		Long: `A hub killed while it writes (kill -9, the OOM killer, a crash) can
leave its capture ending in part of a block: the kernel may stop a write
part-way. l2hub's own readers (replay, check, inject) read such a file up to
its last whole frame, but tshark and others stop with an error ("cut short").
repair trims the partial tail off, so the file ends on its last whole frame.

A file without a cut tail is left as it is. A file that is broken anywhere
else, or is not a capture, is left as it is too, and the error says which
packet and byte offset reading stopped at. So is a file whose block length
runs past its end over whole frames: that length is wrong, not cut, and
trimming there would throw the frames after it away. Run it on a file no
hub is still writing.`,
		Example: "  l2hub capture repair run.pcapng\n  l2hub capture repair run-*.pcapng",
		Args:    cli.WantArgs(1, -1, "the capture FILEs to repair", "l2hub capture repair run.pcapng", ""),
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
