//go:build unix && !linux

package lab

import (
	"os/exec"
	"syscall"
)

// watchdog is Linux's only: without a parent-death signal, a lab killed
// with -9 leaves its QEMUs running.
type watchdog struct{}

func startWatchdog() (*watchdog, error) { return nil, nil }

func (w *watchdog) stop() {}

func (w *watchdog) pgid() int { return 0 }

// vmProcAttr starts a QEMU in a process group of its own (so that a
// signal reaches whatever it started).
func vmProcAttr(*watchdog) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitQEMU waits for QEMU to end and reaps it, then calls ended, which
// kills what is left of QEMU's process group. Here nothing waits without
// reaping: if the group is empty by then, its id (QEMU's pid) is free, and
// in the rare case that it was reused at once the signal reaches another
// group (as a late signal could before the watchdog existed).
func waitQEMU(cmd *exec.Cmd, ended func()) error {
	err := cmd.Wait()
	ended()
	return err
}
