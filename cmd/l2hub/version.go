package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"l2hub/control"
	"l2hub/internal/buildinfo"
	"l2hub/internal/suggest"
)

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the VCS revision it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return writeJSON(stdout, struct {
					Schema int `json:"schema"` // control.Schema, as every --json document starts
					buildinfo.Info
				}{control.Schema, buildinfo.Read()})
			}
			return buildinfo.Read().WriteText(stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a->b" as it is: no page embeds this
	return enc.Encode(v)
}

// flagAliases is the annotation that lists, space-separated, the names a
// command's flag normalize function accepts beside its flags' own.
const flagAliases = "l2hub/flag-aliases"

// suggestFlag adds the nearest known flag to an unknown-flag error:
// "unknown flag: --captur (did you mean --capture?)".
//
// A command with subcommands whose first argument names none of them
// ("l2hub srve --control off") gets the unknown command instead: the flag
// is unknown only because the command is.
func suggestFlag(cmd *cobra.Command, err error) error {
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
	flagNames := func(fs ...*pflag.FlagSet) []string {
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
	names := flagNames(cmd.Flags(), cmd.InheritedFlags())
	// Aliases a normalize function maps to a flag (check's --check) are
	// names a user types too.
	for _, alias := range strings.Fields(cmd.Annotations[flagAliases]) {
		if cmd.Flags().Lookup(alias) != nil {
			names = append(names, alias)
		}
	}
	if !cmd.HasParent() { // l2hub alone serves: its flags are serve's
		if serve, _, ferr := cmd.Find([]string{"serve"}); ferr == nil {
			if serve.Flags().Lookup(name) != nil {
				return fmt.Errorf("%w (it is l2hub serve's: l2hub serve --%s ...)", err, name)
			}
			if best, ok := suggest.Nearest(name, flagNames(serve.Flags())); ok && !slices.Contains(names, best) {
				return fmt.Errorf("%w (did you mean l2hub serve --%s?)", err, best)
			}
		}
	}
	best, ok := suggest.Nearest(name, names)
	if !ok {
		return fmt.Errorf("%w (%s --help lists the flags)", err, cmd.CommandPath())
	}
	return fmt.Errorf("%w (did you mean --%s?)", err, best)
}
