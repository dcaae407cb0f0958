//go:build unix && !linux

package ready

import (
	"errors"
	"syscall"
)

// knowsAlive says whether alive can tell a running process from one
// that has exited.
const knowsAlive = true

func startTime(int) uint64 { return 0 }

// alive reports whether a process with this pid exists (a zombie counts:
// without /proc this system does not say).
func alive(pid int, _ uint64) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// within says that any process may be root's: this system does not say
// (without /proc) who started whom cheaply, so it is not checked.
func within(int, int) bool { return true }

// exists reports whether a process with this pid exists, a zombie
// included.
func exists(pid int) bool { return alive(pid, 0) }
