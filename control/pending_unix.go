//go:build unix

package control

import (
	"net"
	"syscall"
)

// pendingInput reports whether c has bytes waiting in the kernel that no
// one has read yet, without reading them (MSG_PEEK, which does not wait:
// the runtime's sockets are non-blocking). A connection that is not a
// socket has none.
func pendingInput(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	pending := false
	raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = err == nil && n > 0
	})
	return pending
}
