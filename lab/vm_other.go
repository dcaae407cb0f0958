//go:build unix && !linux

package lab

import "syscall"

// vmProcAttr starts a QEMU in a process group of its own (so that a
// signal reaches whatever it started). Without Linux's parent-death
// signal, a lab killed with -9 leaves its QEMUs running.
func vmProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
