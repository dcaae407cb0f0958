package loadgen

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel SIGKILL cmd's process when this process
// exits (started with tied.Start, which forks from a thread that lives as
// long as the process).
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
