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
	state, _, start, ok = procStatPPID(pid)
	return state, start, ok
}

// procStatPPID is procStat with the process's parent.
func procStatPPID(pid int) (state byte, ppid int, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, 0, false
	}
	ppid, err = strconv.Atoi(string(f[1])) // field 4
	if err != nil {
		return 0, 0, 0, false
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64) // field 22, starttime
	if err != nil {
		return 0, 0, 0, false
	}
	return f[0][0], ppid, start, true
}

// maxDepth bounds how far up Within walks from a process: a wrapper
// (timeout, sudo, runuser, go run, unshare -f, a shell) puts a level or two
// between what was started and the hub.
const maxDepth = 16

// within reports whether process pid is root or runs under it: root, its
// child, its child's child...
func within(pid, root int) bool {
	for range maxDepth {
		if pid == root {
			return true
		}
		_, ppid, _, ok := procStatPPID(pid)
		if !ok || ppid <= 1 {
			return false // gone, or up to init (or a pid namespace's)
		}
		pid = ppid
	}
	return false
}

// knowsAlive says whether alive can tell a running process from one
// that has exited.
const knowsAlive = true

// startTime is the process's start time, 0 if unknown.
func startTime(pid int) uint64 {
	_, start, _ := procStat(pid)
	return start
}

// exists reports whether there is a process pid: /proc has it, a zombie
// included.
func exists(pid int) bool {
	_, _, ok := procStat(pid)
	return ok
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
