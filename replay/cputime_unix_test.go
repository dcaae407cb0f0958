//go:build unix

package replay

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time so far, so that benchmarks
// can report CPU per frame, which a busy shared machine distorts less than
// wall-clock rates.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
