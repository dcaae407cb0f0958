//go:build unix

package ready

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock on f without waiting. It reports false
// only when another open file holds one; a file system that has no such
// locks counts as free.
func tryLock(f *os.File) bool {
	raw, err := f.SyscallConn()
	if err != nil {
		return true
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) { lerr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		return true
	}
	return !errors.Is(lerr, unix.EWOULDBLOCK)
}

// openNoFollow opens path for reading, neither following a symbolic link
// nor waiting for a FIFO's writer.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
