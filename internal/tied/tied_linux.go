package tied

import (
	"os/exec"
	"runtime"
	"sync"
)

// Start starts cmd (cmd.Start) on the forking thread. The caller sets
// cmd.SysProcAttr, parent-death signal included.
func Start(cmd *exec.Cmd) error {
	req := start{cmd: cmd, err: make(chan error, 1)}
	forker() <- req
	return <-req.err
}

type start struct {
	cmd *exec.Cmd
	err chan error
}

// forker returns the channel of the goroutine that starts tied children.
var forker = sync.OnceValue(func() chan<- start {
	reqs := make(chan start)
	go fork(reqs)
	return reqs
})

// fork starts the children asked for on reqs, from a thread it never
// unlocks: the thread lives as long as the process. It never returns; a
// package's goroutine leak check ignores it by name (LeakIgnore).
func fork(reqs <-chan start) {
	runtime.LockOSThread()
	for r := range reqs {
		r.err <- r.cmd.Start()
	}
}
