package control

import (
	"net"
	"os"
	"testing"
)

// TestTCPServerUID: the server's end of a loopback TCP connection is found
// in the kernel's tables, IPv4, IPv6 and IPv4 to a socket bound to [::]
// (listed in tcp6, IPv4-mapped), before the server accepts it and after,
// and it is this process's own; a client's own end is not taken for it.
func TestTCPServerUID(t *testing.T) {
	for _, tc := range []struct{ name, listen, dial string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
		{"ipv4-to-dual-stack", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("skipping: no %s here: %v", tc.listen, err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port
			c, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.ParseIP(tc.dial), Port: port})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			check := func(when string) {
				t.Helper()
				uid, found, err := tcpServerUID(c)
				if err != nil || !found || uid != os.Getuid() {
					t.Errorf("%s: tcpServerUID(%v -> %v) = %d, %v, %v; want uid %d, found", when, c.LocalAddr(), c.RemoteAddr(), uid, found, err, os.Getuid())
				}
			}
			check("not accepted yet")
			s, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check("accepted")
			// The listener's end of the same connection, seen from it: its
			// server is the client's socket, also this process's.
			if uid, found, err := tcpServerUID(s); err != nil || !found || uid != os.Getuid() {
				t.Errorf("tcpServerUID(the accepted end) = %d, %v, %v", uid, found, err)
			}
		})
	}
	// An address no socket of this host has.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, found, err := findTCPSocket("/proc/net/tcp", &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}, c.LocalAddr().(*net.TCPAddr)); found || err != nil {
		t.Errorf("findTCPSocket(a TEST-NET address) = found %v, %v; want not found", found, err)
	}
}
