package loadgen

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel SIGKILL cmd's process when the thread that
// started it exits: in a Go program, when the process exits (the runtime
// does not end the threads it starts goroutines on, short of a goroutine
// locked to one).
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
