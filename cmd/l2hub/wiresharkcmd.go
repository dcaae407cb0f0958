package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"l2hub/wireshark"
)

func newWiresharkPluginCmd(stdout io.Writer) *cobra.Command {
	var install bool
	var dir string
	cmd := &cobra.Command{
		Use:   "wireshark-plugin [--install [--dir DIR]]",
		Short: "Print or install the Wireshark dissector for open-nexus-OS's NXSB announces and nexus-v1 sessions",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !install && dir == "" { // --dir says where to install
				_, err := stdout.Write(wireshark.Plugin)
				return err
			}
			path, err := wireshark.Install(dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "installed %s; restart Wireshark (or reload Lua plugins: Analyze > Reload Lua Plugins)\n", path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&install, "install", false, "install into Wireshark's personal Lua plugin folder")
	cmd.Flags().StringVar(&dir, "dir", "", "install into this `folder` instead (implies --install)")
	return cmd
}
