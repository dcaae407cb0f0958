package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Strict makes the command tree under root refuse what names no command,
// where cobra would print help and exit 0: every command that only groups
// others refuses an argument that names none of them (with no arguments
// it still prints its help), and "help TOPIC" fails on a topic that names
// no command. It adds cobra's help and completion commands now, so that
// completion's shells are held to it too, and sets SuggestFlag as the
// flag error function. The root itself, when it runs something, is held
// to it by Args: UnknownCommand. Call it once the tree is built; Execute
// runs it.
func Strict(root *cobra.Command) {
	root.SetFlagErrorFunc(SuggestFlag)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	refuseUnknownCommands(root)
	strictHelp(root)
}

// Execute runs root (built with Strict) on args. With --help, cobra prints
// the help of the group a mistyped command was meant to be in, and exits 0
// ("l2hub repaly --help"): Execute refuses it, as without --help.
func Execute(ctx context.Context, root *cobra.Command, args []string) error {
	var mistyped error
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, a []string) {
		if c.HasSubCommands() && c.Flags().NArg() > 0 {
			mistyped = unknownCommandError(c, c.Flags().Arg(0))
			return
		}
		help(c, a)
	})
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return err
	}
	return mistyped
}

// strictHelp makes "help TOPIC" fail on a topic that names no command, as
// the command itself would, where cobra's help command prints "Unknown
// help topic" and exits 0.
func strictHelp(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			continue
		}
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			switch {
			case err != nil:
				return err
			case len(rest) > 0:
				return unknownCommandError(cmd, rest[0])
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		}
	}
}

// refuseUnknownCommands makes every command under cmd that only groups
// others (it has subcommands and no Run) refuse an argument that names
// none of them, as the root does: cobra would print the group's help and
// exit 0 on "l2hub ctl partiton". With no arguments it still prints help.
func refuseUnknownCommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownCommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = UnknownCommand
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// UnknownCommand refuses any argument as an unknown subcommand of cmd,
// with cobra's "Did you mean this?" suggestions: the Args of a root that
// runs something, and (Strict) of every command that only groups others.
func UnknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommandError(cmd, args[0])
}

func unknownCommandError(cmd *cobra.Command, name string) error {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}
