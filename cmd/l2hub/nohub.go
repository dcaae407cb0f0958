package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"l2hub/control"
)

// withNoHubHint makes cmd and its subcommands (ctl, wait, inject: those
// that reach a running hub) add to an error that found no hub at the
// control address (control.ErrNoHub) what their user can do about it,
// which the control package, a library, leaves to its caller.
func withNoHubHint(cmd *cobra.Command) *cobra.Command {
	wrap := func(f func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
		if f == nil {
			return nil
		}
		return func(c *cobra.Command, args []string) error { return noHubHint(f(c, args)) }
	}
	cmd.PersistentPreRunE, cmd.RunE = wrap(cmd.PersistentPreRunE), wrap(cmd.RunE)
	for _, sub := range cmd.Commands() {
		withNoHubHint(sub)
	}
	return cmd
}

// noHubHint is err with, when it found no hub (control.ErrNoHub), the
// advice to start one or name a running one's address.
func noHubHint(err error) error {
	if !errors.Is(err, control.ErrNoHub) {
		return err
	}
	return fmt.Errorf("%w: is it running? Start one with l2hub serve, or give a running hub's address with --control", err)
}
