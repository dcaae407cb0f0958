package qemu

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// StartTied starts cmd so that the kernel kills it (SIGKILL) when this
// process dies, whatever the death: a test binary's timeout panic runs no
// cleanups, and a QEMU or hub it started would run on, an hour or forever.
// It reaches cmd's own process only, not what that process starts: QEMU is
// run directly, not through a wrapper, and `l2hub lab` has its own
// watchdogs for its QEMUs.
//
// A parent-death signal is tied to the thread that forked the child, not
// to the process: it also fires when that thread ends, and the Go runtime
// ends a thread whose goroutine exits while locked to it (any goroutine's
// Start may run on a thread that another goroutine later locks). So every
// tied child is forked by one goroutine locked to its thread for the life
// of the process.
func StartTied(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	req := tiedStart{cmd: cmd, err: make(chan error, 1)}
	forker() <- req
	return <-req.err
}

type tiedStart struct {
	cmd *exec.Cmd
	err chan error
}

// forker returns the channel of the goroutine that starts tied children.
var forker = sync.OnceValue(func() chan<- tiedStart {
	reqs := make(chan tiedStart)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for r := range reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return reqs
})
