package control

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTCPServerUID: the server's end of a loopback TCP connection is found,
// by NETLINK_SOCK_DIAG and by the tables it falls back to alike: IPv4
// (127.0.0.1 and 127.0.0.2), IPv6, and IPv4 and IPv6 to a socket bound to
// [::] (dual-stack: listed in tcp6, IPv4-mapped), before the server
// accepts it and after, and it is this process's own; a client's own end
// is not taken for it.
func TestTCPServerUID(t *testing.T) {
	for _, tc := range []struct{ name, listen, dial string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
		{"ipv4-to-dual-stack", "[::]:0", "127.0.0.1"},
		{"127.0.0.2", "127.0.0.2:0", "127.0.0.2"},
		{"127.0.0.2-to-dual-stack", "[::]:0", "127.0.0.2"},
		{"ipv6-to-dual-stack", "[::]:0", "::1"},
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
			local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
			check := func(when string) {
				t.Helper()
				for name, lookup := range map[string]func() (int, bool, error){
					"tcpServerUID": func() (int, bool, error) { return tcpServerUID(c) },
					"sockDiagUID":  func() (int, bool, error) { return sockDiagUID(remote, local) },
					"procTCPUID":   func() (int, bool, error) { return procTCPUID(remote, local) },
				} {
					uid, found, err := lookup()
					if name == "sockDiagUID" && err != nil {
						t.Logf("skipping sockDiagUID: no NETLINK_SOCK_DIAG here: %v", err)
						continue
					}
					if err != nil || !found || uid != os.Getuid() {
						t.Errorf("%s: %s(%v -> %v) = %d, %v, %v; want uid %d, found", when, name, local, remote, uid, found, err, os.Getuid())
					}
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
	testNet := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	if _, found, err := findTCPSocket("/proc/net/tcp", testNet, c.LocalAddr().(*net.TCPAddr)); found || err != nil {
		t.Errorf("findTCPSocket(a TEST-NET address) = found %v, %v; want not found", found, err)
	}
	if _, found, err := sockDiagUID(testNet, c.LocalAddr().(*net.TCPAddr)); found || err != nil && !errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Errorf("sockDiagUID(a TEST-NET address) = found %v, %v; want not found", found, err)
	}
}

// TestProcTablesUnreadable: a /proc without net/ (mounted with subset=pid,
// as systemd's ProcSubset=pid does) is an error that says so, not "no such
// socket"; a table of IPv6 sockets missing alone is a host without IPv6.
func TestProcTablesUnreadable(t *testing.T) {
	defer func(saved []string) { procNetTCP = saved }(procNetTCP)
	dir := t.TempDir()
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7291}
	b := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	procNetTCP = []string{filepath.Join(dir, "tcp"), filepath.Join(dir, "tcp6")}
	if _, found, err := procTCPUID(a, b); found || err == nil || !strings.Contains(err.Error(), "subset=pid") {
		t.Errorf("procTCPUID without the tables = found %v, %v; want an error naming subset=pid", found, err)
	}
	row := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:1C7B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1234        0 1 1 0 20 4 30 10 -1\n"
	if err := os.WriteFile(procNetTCP[0], []byte(row), 0o644); err != nil {
		t.Fatal(err)
	}
	if uid, found, err := procTCPUID(a, b); !found || err != nil || uid != 1234 {
		t.Errorf("procTCPUID from a table without tcp6 = %d, found %v, %v; want uid 1234", uid, found, err)
	}
	if _, found, err := procTCPUID(b, a); found || err != nil {
		t.Errorf("procTCPUID of the row's other end = found %v, %v; want not found", found, err)
	}
}
