package qemu

import (
	"os/exec"
	"syscall"

	"l2hub/internal/tied"
)

// StartTied starts cmd so that the kernel kills it (SIGKILL) when this
// process dies, whatever the death: a test binary's timeout panic runs no
// cleanups, and a QEMU or hub it started would run on, an hour or forever.
// It reaches cmd's own process only, not what that process starts: QEMU is
// run directly, not through a wrapper, and `l2hub lab` has its own
// watchdogs for its QEMUs. The child is forked by package tied's thread,
// so the signal means this process's death, not a thread's.
func StartTied(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return tied.Start(cmd)
}
