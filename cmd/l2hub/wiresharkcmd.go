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
		Long: `Print the Lua dissector (nexus.lua) on stdout, or with --install copy it
into Wireshark's personal Lua plugin folder (the one tshark -G folders
names; --dir picks another, and implies --install), replacing an older copy.

It decodes the NXSB announce on UDP 37020 (and any UDP datagram that starts
with "NXSB" 01) as the OS's decoder does, and the session on TCP 34567 and
34568: the nexus-v1 handshake messages, its fixed-size records (decrypted
and authenticated with the bring-up keys), and the noise-xk-std profile's
length-prefixed messages. Filter with nxsb, nexus, nexus.authentic == 0,
nexus.summary contains "OPEN_BATCH".

Use it once without installing: tshark -X lua_script:nexus.lua -r run.pcapng`,
		Example: `  l2hub wireshark-plugin --install
  l2hub wireshark-plugin > nexus.lua && tshark -X lua_script:nexus.lua -r run.pcapng -Y nexus`,
		Args: cobra.NoArgs,
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
