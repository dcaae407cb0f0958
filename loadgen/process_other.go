//go:build !linux

package loadgen

import "os/exec"

// setDeathSignal does nothing where the OS has no parent-death signal: a
// bench killed with SIGKILL leaves its hub process running there.
func setDeathSignal(*exec.Cmd) {}
