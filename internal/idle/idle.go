package idle

import (
	"bytes"
	"errors"
	"runtime"
)

// ErrBusy is returned when the process does not settle: some goroutine
// keeps running (a spin, or work on wall-clock time a simulation cannot see).
var ErrBusy = errors.New("idle: the process never went idle")

// settleTries bounds Settle: each try yields the processor once and then
// inspects every goroutine.
const settleTries = 100_000

// Settle returns once every goroutine but the caller is blocked: none is
// running, runnable or preempted. (A goroutine in a system call counts as
// blocked: the signal handler's loop sits in one for ever, and the
// programs a simulation runs make none that matter.) The runtime writes
// every goroutine's state in one stop-the-world, so an idle snapshot is
// exact: nothing can run again until the caller acts (or a wall-clock timer
// or I/O fires, which a Sim's programs must not use).
func Settle() error {
	buf := make([]byte, 64<<10)
	for range settleTries {
		runtime.Gosched()
		n := runtime.Stack(buf, true)
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if idle(buf[:n]) {
			return nil
		}
	}
	return ErrBusy
}

// idle reports whether a goroutine dump shows no goroutine that can run,
// the first (the caller's own) excepted.
func idle(dump []byte) bool {
	first := true
	for line := range bytes.Lines(dump) {
		if !bytes.HasPrefix(line, []byte("goroutine ")) {
			continue
		}
		if first {
			first = false
			continue
		}
		if busy(state(line)) {
			return false
		}
	}
	return true
}

// state returns the state of a header line such as
// "goroutine 7 [chan receive, 2 minutes]:".
func state(line []byte) []byte {
	i := bytes.IndexByte(line, '[')
	if i < 0 {
		return nil
	}
	s := line[i+1:]
	if j := bytes.IndexAny(s, ",]"); j >= 0 {
		s = s[:j]
	}
	return s
}

func busy(state []byte) bool {
	switch string(state) {
	case "running", "runnable", "preempted":
		return true
	}
	return false
}
