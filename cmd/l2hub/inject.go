package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/cli"
	"l2hub/replay"
)

func newInjectCmd(stdout, stderr io.Writer) *cobra.Command {
	var f replay.InjectFlags
	cmd := &cobra.Command{
		Use:   "inject CAPTURE --into PORT [flags]",
		Short: "Send a capture's frames into a live port of a running hub, towards its VM",
		Args:  cli.WantArgs(1, 1, "one CAPTURE", "l2hub inject handshake.pcapng --into b", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInject(cmd, f, args[0], stdout, stderr)
		},
	}
	f.Register(cmd.Flags())
	cmd.Flags().Lookup("control").Usage = "the hub's control address: " + control.AddrForms()
	cmd.MarkFlagRequired("into")
	return cmd
}

func runInject(cmd *cobra.Command, f replay.InjectFlags, path string, stdout, stderr io.Writer) error {
	if err := control.CheckAddrFlag(f.Control); err != nil {
		return err
	}
	cfg, err := f.Config(path)
	if err != nil {
		return err
	}
	// A capture that cannot be read is said before the hub is asked about
	// the port, and with no report of nothing sent.
	if err := replay.CheckInjectCapture(path); err != nil {
		return err
	}
	cl, err := control.Dial(cmd.Context(), f.Control, &f.Token)
	if err != nil {
		return err
	}
	return replay.RunInject(cmd.Context(), cl, f.Into, cfg, f.TruncOK, replay.InjectOutput{
		Report: func(rep *replay.InjectReport) {
			if f.JSON {
				cli.WriteDocument(stdout, control.Schema, rep)
			} else {
				fmt.Fprintf(stdout, "inject %s into %s (%s): %s\n", path, f.Into, cfg.Pacing, rep)
			}
		},
		Warn: func(w string) { fmt.Fprintln(stderr, "l2hub inject: warning:", w) },
	})
}
