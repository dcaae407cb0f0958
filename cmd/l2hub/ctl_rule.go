package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/internal/cli"
)

// newCtlRuleCmd is `l2hub ctl rule add|update|remove NAME`: one rule of the
// running hub's policy changed, the rest left as it is. client is ctl's
// client, made once ctl's flags are parsed.
func newCtlRuleCmd(stdout io.Writer, client func() *control.Client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rule add|update|remove NAME",
		Short: "Add, update or remove one rule of the running policy, leaving the rest as it is",
	}
	// change is add or update: the rule from its source, sent to the hub.
	change := func(use, short, verb, example string, send func(ctx context.Context, name string, src []byte) (filter.RuleDescription, error)) *cobra.Command {
		var source control.RuleSource
		c := &cobra.Command{Use: use, Short: short, Args: cli.WantArgs(1, 1, "the rule's NAME", example, ""),
			RunE: func(cmd *cobra.Command, args []string) error {
				src, err := source.ReadContext(cmd.Context(), cmd.InOrStdin(), args[0])
				if err != nil {
					return err
				}
				d, err := send(cmd.Context(), args[0], src)
				if err != nil {
					return client().Explain(cmd.Context(), source.Where(err, args[0]))
				}
				fmt.Fprintf(stdout, "rule %s %s: %s\n", d.Name, verb, d)
				return nil
			}}
		source.Register(c.Flags())
		return c
	}
	var before string
	addCmd := change("add NAME", "Add a rule, after the others or --before another", "added", "l2hub ctl rule add loss-a-b --loss 'a->b=5%'",
		func(ctx context.Context, name string, src []byte) (filter.RuleDescription, error) {
			return client().AddRule(ctx, name, src, before)
		})
	addCmd.Flags().StringVar(&before, "before", "", "put the rule just before `RULE` (default: after every rule)")
	updateCmd := change("update NAME", "Replace a rule, in its place; its counters go on", "updated", "l2hub ctl rule update loss-a-b --loss 'a->b=20%'",
		func(ctx context.Context, name string, src []byte) (filter.RuleDescription, error) {
			return client().UpdateRule(ctx, name, src)
		})

	removeCmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a rule",
		Args:  cli.WantArgs(1, 1, "the rule's NAME", "l2hub ctl rule remove loss-a-b", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := client().RemoveRule(cmd.Context(), args[0])
			if err != nil {
				return client().Explain(cmd.Context(), err)
			}
			fmt.Fprintln(stdout, control.RemovedText(d))
			return nil
		},
	}
	// Each one's help is its Short and the rule command's (help/ctl-rule-add.txt).
	cmd.AddCommand(addCmd, updateCmd, removeCmd)
	return cmd
}
