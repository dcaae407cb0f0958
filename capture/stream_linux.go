package capture

import (
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// pollablePipe opens the pipe f writes into once more, through
// /proc/self/fd, as a file of its own in non-blocking mode: the runtime's
// poller then waits on its writes, and a deadline (Sink.Close, when the
// reader stopped reading) ends one that would otherwise block in write(2)
// for good. Setting O_NONBLOCK on f itself would change the descriptor
// that f shares with other processes. It returns nil when f is not a
// pipe, or has no reader left, or cannot be opened again.
func pollablePipe(f *os.File) *os.File {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	if rc.Control(func(d uintptr) { fd = int(d) }) != nil || fd < 0 {
		return nil
	}
	// O_NONBLOCK: a pipe whose reader has gone fails at once (ENXIO)
	// rather than wait for a new one.
	p, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	return p
}
