package control

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// connAge is how long ago a TCP connection's last byte came in, or, when
// none has, how long ago it was made (TCP_INFO's last_data_recv): for a
// connection just accepted that has sent nothing, the time it waited in
// the kernel's queue. It is 0 where the system cannot say (a unix socket).
func connAge(c net.Conn) time.Duration {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	var age time.Duration
	raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			age = time.Duration(info.Last_data_recv) * time.Millisecond
		}
	})
	return age
}
