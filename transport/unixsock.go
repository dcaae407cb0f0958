package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// clearStaleSocket makes path free to bind. Nothing there is fine. A socket
// file that refuses a connection is a leftover of a process that died
// without unlinking it, and is removed. A socket that answers is in use
// (ErrAddrInUse). Anything that is not a socket is never touched.
func clearStaleSocket(network, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", network, path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s %s: exists and is not a socket (%s); not replacing it", network, path, fi.Mode().Type())
	}
	c, err := net.DialTimeout(network, path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s %s: another process is listening there: %w", network, path, ErrAddrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s %s: socket file exists and may be in use (%v): %w", network, path, err, ErrAddrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: removing stale socket: %w", network, path, err)
	}
	return nil
}

// removeSocketFile removes path if it is still a socket file.
func removeSocketFile(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		os.Remove(path)
	}
}
