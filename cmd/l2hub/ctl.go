package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/internal/cli"
	"l2hub/internal/jsondoc"
)

func newCtlCmd(stdout, stderr io.Writer) *cobra.Command {
	var addr string
	var tf control.TokenFlags
	var c *control.Client
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Control a running hub: ports, policy, partitions, links, metrics",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			c, err = control.Dial(cmd.Context(), addr, &tf)
			return err
		},
	}
	cmd.PersistentFlags().StringVar(&addr, "control", "", "the hub's control address: "+control.AddrForms())
	tf.Register(cmd.PersistentFlags().StringVar)

	// sub is one ctl subcommand: run gets the client and the arguments.
	sub := func(use, short string, args cobra.PositionalArgs, run func(ctx context.Context, cl *control.Client, args []string) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args, RunE: func(cmd *cobra.Command, a []string) error {
			return c.Explain(cmd.Context(), run(cmd.Context(), c, a))
		}}
	}
	// write writes the hub's answer as it is (the policy's JSON, metrics).
	write := func(answer []byte, err error) error {
		if err == nil {
			_, err = stdout.Write(answer)
		}
		return err
	}
	// done says what a change did, once the hub has made it.
	done := func(err error, format string, args ...any) error {
		if err == nil {
			fmt.Fprintf(stdout, format+"\n", args...)
		}
		return err
	}

	var portsJSON, rulesJSON bool
	ports := sub("ports", "List ports: peers, link state, active partitions and counters", cobra.NoArgs,
		func(ctx context.Context, cl *control.Client, _ []string) error {
			ports, err := cl.Ports(ctx)
			if err != nil {
				return err
			}
			if portsJSON {
				return jsondoc.WriteJSON(stdout, control.NewPortsDocument(ports))
			}
			return control.WritePorts(stdout, ports)
		})
	ports.Flags().BoolVar(&portsJSON, "json", false, "print the ports as JSON")
	rules := sub("rules", "Show the policy's counters: rules, partitions and port links", cobra.NoArgs,
		func(ctx context.Context, cl *control.Client, _ []string) error {
			raw, err := cl.Rules(ctx)
			if err != nil {
				return err
			}
			var st filter.Stats
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("rules: %w", err)
			}
			if rulesJSON {
				return jsondoc.WriteJSON(stdout, control.NewRulesDocument(st))
			}
			return control.WriteRules(stdout, st)
		})
	rules.Flags().BoolVar(&rulesJSON, "json", false, "print the counters as JSON (rules, partitions, port_links), as serve's summary and replay --json give them")

	partition := sub("partition NAME [GROUP GROUP...]", "Start a partition: the policy's partition NAME, or an ad-hoc one between GROUPs",
		cobra.ArbitraryArgs,
		func(ctx context.Context, cl *control.Client, args []string) error {
			name, groups, err := control.ParsePartitionArgs(args)
			if err != nil {
				return err
			}
			err = cl.StartPartition(ctx, name, groups)
			if groups == nil && errors.Is(err, filter.ErrUnknownPartition) && strings.ContainsAny(name, "|,") {
				// A flag partition is named after its groups ("a|b"), so such a
				// name may be one; when the hub has none, groups were meant.
				err = fmt.Errorf("%w; %q looks like groups, not a partition's name: give a name first, then each group as an argument (ctl partition split %s)",
					err, name, strings.Join(strings.Split(name, "|"), " "))
			}
			return done(err, "partition %s started", name)
		})

	var setPolicy *cobra.Command
	setPolicy = sub("set-policy FILE", "Replace the policy with FILE (- for standard input; validated first, refused whole on error)",
		cli.WantArgs(1, 1, "the policy FILE", "l2hub ctl set-policy new.yaml", ""),
		func(ctx context.Context, cl *control.Client, args []string) error {
			name := args[0]
			read := func() ([]byte, error) { return control.ReadPolicyFile(args[0]) }
			if name == "-" {
				name = "standard input"
				read = func() ([]byte, error) { return control.ReadPolicySource(setPolicy.InOrStdin(), name) }
			}
			src, err := control.ReadContext(ctx, read)
			if err != nil {
				return err
			}
			return done(cl.ReplacePolicy(ctx, name, src), "policy replaced with %s", name)
		})

	cmd.AddCommand(
		ports,
		sub("policy", "Show the policy in force (JSON; null when the hub runs without one)", cobra.NoArgs,
			func(ctx context.Context, cl *control.Client, _ []string) error {
				raw, err := cl.Policy(ctx)
				if err == nil && bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
					// stdout stays JSON for scripts; a person learns why it is null.
					fmt.Fprintln(stderr, "l2hub ctl policy: the hub runs without a policy (serve --policy FILE, or ctl set-policy FILE, gives it one)")
				}
				return write(raw, err)
			}),
		setPolicy,
		rules,
		partition,
		sub("heal NAME", "End a partition", cli.WantArgs(1, 1, "the partition's NAME", "l2hub ctl heal split", ""),
			func(ctx context.Context, cl *control.Client, args []string) error {
				return done(cl.HealPartition(ctx, args[0]), "partition %s healed", args[0])
			}),
		sub("link PORT up|down", "Set a port's link up or down", cli.WantArgs(2, 2, "PORT and up|down", "l2hub ctl link b down", ""),
			func(ctx context.Context, cl *control.Client, args []string) error {
				if args[1] != "up" && args[1] != "down" {
					return fmt.Errorf("link state %q: want up or down", args[1])
				}
				return done(cl.SetLink(ctx, args[0], args[1] == "up"), "link %s %s", args[0], args[1])
			}),
		newCtlRuleCmd(stdout, func() *control.Client { return c }),
		sub("metrics", "Print the Prometheus metrics", cobra.NoArgs,
			func(ctx context.Context, cl *control.Client, _ []string) error {
				m, err := cl.Metrics(ctx)
				return write([]byte(m), err)
			}),
	)
	return cmd
}
