//go:build linux

package ready

import (
	"bytes"
	"os"
	"strconv"
)

// procStat reads a process's state and start time (in clock ticks since
// boot) from /proc/PID/stat; ok is false when there is no such process.
func procStat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64) // field 22, starttime
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], start, true
}

// knowsAlive says whether alive can tell a running process from one
// that has exited.
const knowsAlive = true

// startTime is the process's start time, 0 if unknown.
func startTime(pid int) uint64 {
	_, start, _ := procStat(pid)
	return start
}

// alive reports whether process pid runs: it exists, has not exited (a
// zombie its parent has not reaped yet has), and, when start is not 0,
// started then (the pid was not reused by another process).
func alive(pid int, start uint64) bool {
	state, got, ok := procStat(pid)
	switch {
	case !ok, state == 'Z', state == 'X', state == 'x':
		return false
	case start != 0 && got != start:
		return false
	}
	return true
}
