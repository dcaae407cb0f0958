//go:build unix && !linux

package lab

import "syscall"

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
