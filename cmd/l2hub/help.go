package main

import (
	"embed"
	"io/fs"

	"github.com/spf13/cobra"

	"l2hub/control"
	"l2hub/internal/cli"
)

// helpFiles hold every command's long help and examples, one file per
// command; cli.LoadHelp says how they are named and written.
//
//go:embed help/*.txt
var helpFiles embed.FS

// helpVars are the values the help files name as {{NAME}}: those the
// program computes.
func helpVars() map[string]string {
	return map[string]string{
		"control.DefaultAddr": control.DefaultAddr(),
		"control.TokenEnv":    control.TokenEnv,
	}
}

// loadHelp fills the Long and Example of root's commands from helpFiles.
func loadHelp(root *cobra.Command) error {
	files, err := fs.Sub(helpFiles, "help")
	if err != nil {
		return err
	}
	return cli.LoadHelp(root, files, helpVars())
}
