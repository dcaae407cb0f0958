package main

import (
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"l2hub/serve"
	"l2hub/transport"
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
		Long: `Print, for each port of a config file (or of --port flags, or of the default
two-port hub), the -netdev flags a QEMU VM needs to attach to it.

With --env, print shell assignments NETDEV_<PORT>='-netdev ...' for harnesses
that take a VM's netdev from a variable, such as open-nexus-OS's os2vm.sh
(NETDEV_A and NETDEV_B; keep id=n0, which its -device and filter-dump use).`,
		Example: `  l2hub qemu-args lab.yaml
  eval "$(l2hub qemu-args --env lab.yaml)"   # sets NETDEV_A, NETDEV_B`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg serve.Config
			switch {
			case len(args) == 1:
				var err error
				if cfg, err = serve.LoadConfig(args[0]); err != nil {
					return err
				}
			case len(ports) == 0:
				cfg = serve.DefaultConfig()
			}
			for _, p := range ports {
				s, err := transport.ParseSpec(p)
				if err != nil {
					return fmt.Errorf("--port %s: %w", p, err)
				}
				cfg.Ports = append(cfg.Ports, s)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			for _, s := range cfg.Ports {
				if anyPort(s) {
					return fmt.Errorf("port %s: address %s lets the hub choose the port when it starts, so no flags can be printed before: give a fixed port, or take the flags from l2hub serve's banner", s.Name, s.Address)
				}
			}
			if !env {
				serve.WriteQEMUArgs(stdout, cfg.Ports, id)
				return nil
			}
			for _, s := range cfg.Ports {
				args := s.QEMUArgs(id)
				if len(args) == 0 {
					continue
				}
				fmt.Fprintf(stdout, "NETDEV_%s='-netdev %s'\n", envName(s.Name), args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&ports, "port", "p", nil, "a port, as for serve (repeatable)")
	cmd.Flags().StringVar(&id, "id", "n0", "the netdev id to put in the flags")
	cmd.Flags().BoolVar(&env, "env", false, "print NETDEV_<PORT>='...' shell assignments")
	return cmd
}

// anyPort reports whether s is bound by the hub at port 0 (any free port),
// which is only known once it serves.
func anyPort(s transport.Spec) bool {
	if s.Transport != transport.TCP && s.Transport != transport.UDP {
		return false
	}
	_, port, err := net.SplitHostPort(s.Address)
	return err == nil && port == "0"
}

// envName turns a port name into a shell variable suffix: "vm-a" -> "VM_A".
func envName(port string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, port)
}
