//go:build !linux

package qemu

import "os/exec"

// StartTied starts cmd. On Linux the kernel also kills cmd when this
// process dies; elsewhere there is no parent-death signal, and a child
// outlives a test binary that panics.
func StartTied(cmd *exec.Cmd) error { return cmd.Start() }
