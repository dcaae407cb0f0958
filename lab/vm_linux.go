package lab

import "syscall"

// vmProcAttr starts a QEMU in a process group of its own (so that a
// signal reaches whatever it started) and kills it should the lab die
// without stopping it.
func vmProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
