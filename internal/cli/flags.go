package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"l2hub/internal/suggest"
)

// Annotations SuggestFlag reads.
const (
	// FlagAliases lists, space-separated, the names a command's flag
	// normalize function accepts beside its flags' own (check's --check).
	FlagAliases = "l2hub/flag-aliases"
	// Runs, on the root, names the subcommand the root runs when given
	// none (l2hub alone serves): the root's unknown flags are then looked
	// up among that command's too.
	Runs = "l2hub/runs"
)

// SuggestFlag is a FlagErrorFunc (Strict sets it on the root) that adds
// the nearest known flag to an unknown-flag error: "unknown flag: --captur
// (did you mean --capture?)".
//
// A command with subcommands whose first argument names none of them
// ("l2hub srve --control off") gets the unknown command instead: the flag
// is unknown only because the command is.
func SuggestFlag(cmd *cobra.Command, err error) error {
	// pflag stops at the bad flag: Args holds the arguments before it.
	if cmd.HasSubCommands() && cmd.Flags().NArg() > 0 {
		if aerr := cmd.ValidateArgs(cmd.Flags().Args()); aerr != nil {
			return aerr
		}
	}
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	name, _, _ = strings.Cut(name, "=")
	names := flagNames(cmd.Flags(), cmd.InheritedFlags())
	// Aliases a normalize function maps to a flag are names a user types
	// too.
	for _, alias := range strings.Fields(cmd.Annotations[FlagAliases]) {
		if cmd.Flags().Lookup(alias) != nil {
			names = append(names, alias)
		}
	}
	if runs := cmd.Annotations[Runs]; runs != "" && !cmd.HasParent() {
		if sub, _, ferr := cmd.Find([]string{runs}); ferr == nil && sub != cmd {
			if sub.Flags().Lookup(name) != nil {
				return fmt.Errorf("%w (it is %s's: %s --%s ...)", err, sub.CommandPath(), sub.CommandPath(), name)
			}
			if best, ok := suggest.Nearest(name, flagNames(sub.Flags())); ok && !slices.Contains(names, best) {
				return fmt.Errorf("%w (did you mean %s --%s?)", err, sub.CommandPath(), best)
			}
		}
	}
	best, ok := suggest.Nearest(name, names)
	if !ok {
		return fmt.Errorf("%w (%s --help lists the flags)", err, cmd.CommandPath())
	}
	return fmt.Errorf("%w (did you mean --%s?)", err, best)
}

// flagNames are the names of the flags of fs that are not hidden.
func flagNames(fs ...*pflag.FlagSet) []string {
	var names []string
	for _, f := range fs {
		f.VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
	}
	return names
}
