//go:build unix && !linux

package transport

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// newUDPSocketFD opens a non-blocking, close-on-exec IPv4 UDP socket. Without
// SOCK_CLOEXEC the flag is set under ForkLock, as package net does, so no
// child started meanwhile inherits the socket.
func newUDPSocketFD() (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// hearOnlyJoined does nothing: BSD-derived systems deliver a group's
// datagrams only to sockets that joined it on the receiving interface,
// and have no IP_MULTICAST_ALL.
func hearOnlyJoined(int) error { return nil }
