package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"l2hub/serve"
)

// newServeCmd is l2hub serve: its flags are serve.Flags; a failed check
// or probe exits 2, a probe without a verdict 3.
func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serve.Flags
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the hub (the default command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := f.Run(cmd.Context(), stdout, stderr, Version)
			switch {
			case errors.Is(err, serve.ErrCheckFailed), errors.Is(err, serve.ErrProbeFailed):
				return &exitError{code: 2, msg: err.Error()}
			case errors.Is(err, serve.ErrProbeNoVerdict):
				return &exitError{code: 3, msg: err.Error()}
			}
			return err
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// serveArgsIn returns the arguments after the command's name when args
// run serve (by name, or l2hub alone), and whether they do.
func serveArgsIn(args []string) (rest []string, serves bool) {
	cmd, rest, err := newRootCmd(io.Discard, io.Discard).Find(args)
	switch {
	case err != nil:
		return nil, false
	case cmd.Name() == "serve", !cmd.HasParent() && len(rest) == 0:
		return rest, true
	}
	return nil, false
}
