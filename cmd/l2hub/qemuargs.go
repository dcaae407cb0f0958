package main

import (
	"io"

	"github.com/spf13/cobra"

	"l2hub/internal/cli"
	"l2hub/serve"
)

func newQEMUArgsCmd(stdout io.Writer) *cobra.Command {
	var (
		ports []string
		id    string
		env   bool
	)
	cmd := &cobra.Command{
		Use:   "qemu-args [config]",
		Short: "Print the QEMU -netdev flags for each port, without serving",
		Args:  cli.WantArgs(0, 1, "at most one config file", "l2hub qemu-args lab.yaml", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			cfg, err := serve.BaseConfig(file, ports, nil)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return serve.PrintQEMUArgs(stdout, cfg, id, env)
		},
	}
	cmd.Flags().StringArrayVarP(&ports, "port", "p", nil, "a port, as for serve (repeatable)")
	cmd.Flags().StringVar(&id, "id", "n0", "the netdev id to put in the flags")
	cmd.Flags().BoolVar(&env, "env", false, "print NETDEV_<PORT>='...' shell assignments")
	return cmd
}
