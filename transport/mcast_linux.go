package transport

import "golang.org/x/sys/unix"

// newUDPSocketFD opens a non-blocking, close-on-exec IPv4 UDP socket.
func newUDPSocketFD() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
}
