//go:build linux

package transport

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMcastStaysOnTheLink: the hub's member sends with TTL 1, so that a
// multicast router never carries the segment off the link, and with
// loopback on, so that members on this host (QEMU's) hear it: both of its
// sockets, the one it sends from and the one bound to the group.
func TestMcastStaysOnTheLink(t *testing.T) {
	d, err := JoinMcast("230.0.0.1:0", "127.0.0.1", 0, 0)
	if err != nil {
		t.Skipf("cannot join a group on loopback here: %v", err)
	}
	defer d.Close()
	for name, c := range map[string]*net.UDPConn{"send socket": d.sock.tx(), "group socket": d.sock.rx()} {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var ttl, loop int
		var gerr error
		if err := rc.Control(func(fd uintptr) {
			ttl, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL)
			if gerr == nil {
				loop, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if gerr != nil {
			t.Fatal(gerr)
		}
		if ttl != 1 || loop != 1 {
			t.Errorf("%s: got IP_MULTICAST_TTL %d, IP_MULTICAST_LOOP %d; want 1, 1", name, ttl, loop)
		}
	}
}
