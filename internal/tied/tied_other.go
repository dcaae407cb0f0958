//go:build !linux

package tied

import "os/exec"

// Start starts cmd. Only Linux has a parent-death signal, so there is no
// thread to choose.
func Start(cmd *exec.Cmd) error { return cmd.Start() }
