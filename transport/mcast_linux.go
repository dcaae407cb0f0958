package transport

import (
	"os"

	"golang.org/x/sys/unix"
)

// newUDPSocketFD opens a non-blocking, close-on-exec IPv4 UDP socket.
func newUDPSocketFD() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
}

// hearOnlyJoined makes a multicast socket receive only the groups it joined
// on the interfaces it joined them on, not every membership of the host
// (IP_MULTICAST_ALL, on by default).
func hearOnlyJoined(fd int) error {
	return os.NewSyscallError("setsockopt IP_MULTICAST_ALL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0))
}
