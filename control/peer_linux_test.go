package control

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestTCPServerUIDDeviceBound: a server whose socket is bound to a device
// (SO_BINDTODEVICE, which any user may set), at a loopback address or at
// another of this host's, is found and named: the kernel's exact lookup
// misses it, and the tables are read.
func TestTCPServerUIDDeviceBound(t *testing.T) {
	type target struct{ name, ip, dev string }
	targets := []target{{"loopback", "127.0.0.1", "lo"}}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && ifc.Flags&net.FlagUp != 0 {
				targets = append(targets, target{"host-address-" + n.IP.String(), n.IP.String(), ifc.Name})
			}
		}
	}
	if len(targets) == 1 {
		t.Log("no address of this host's other than loopback: only loopback is tried")
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			var berr error
			lc := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
				return raw.Control(func(fd uintptr) { berr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, tc.dev) })
			}}
			l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(tc.ip, "0"))
			if berr != nil {
				t.Skipf("skipping: SO_BINDTODEVICE %s refused (older kernels ask for CAP_NET_RAW): %v", tc.dev, berr)
			}
			if err != nil {
				t.Skipf("skipping: cannot listen on %s: %v", tc.ip, err)
			}
			defer l.Close()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if uid, found, err := tcpServerUID(c); err != nil || !found || uid != os.Getuid() {
				t.Errorf("tcpServerUID(to a listener bound to %s at %s) = %d, found %v, %v; want uid %d, found", tc.dev, l.Addr(), uid, found, err, os.Getuid())
			}
		})
	}
}

// TestParseSockDiag: the kernel's answer is taken only whole, to the
// request it answers; an error message that says no error (an
// acknowledgement) is no answer, not "errno 0".
func TestParseSockDiag(t *testing.T) {
	ne := binary.NativeEndian
	msg := func(typ uint16, seq uint32, body []byte) []byte {
		b := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
		ne.PutUint32(b[0:], uint32(unix.SizeofNlMsghdr+len(body)))
		ne.PutUint16(b[4:], typ)
		ne.PutUint32(b[8:], seq)
		return append(b, body...)
	}
	errMsg := func(errno int32) []byte { return ne.AppendUint32(nil, uint32(-errno)) }
	diag := make([]byte, 72)
	diag[1] = 10 // LISTEN
	ne.PutUint32(diag[64:], 1234)
	long := msg(unix.SOCK_DIAG_BY_FAMILY, 1, diag)
	ne.PutUint32(long[0:], uint32(len(long)+1))
	for _, tc := range []struct {
		name    string
		buf     []byte
		uid     int
		found   bool
		wantErr string
	}{
		{"socket", msg(unix.SOCK_DIAG_BY_FAMILY, 1, diag), 1234, true, ""},
		{"enoent", msg(unix.NLMSG_ERROR, 1, errMsg(int32(unix.ENOENT))), 0, false, ""},
		{"eperm", msg(unix.NLMSG_ERROR, 1, errMsg(int32(unix.EPERM))), 0, false, "not permitted"},
		{"ack", msg(unix.NLMSG_ERROR, 1, errMsg(0)), 0, false, "without an error"},
		{"other-request", msg(unix.SOCK_DIAG_BY_FAMILY, 2, diag), 0, false, "answer to request 2, not 1"},
		{"longer-than-read", long, 0, false, "answer of length"},
		{"short", msg(unix.SOCK_DIAG_BY_FAMILY, 1, diag[:8]), 0, false, "short answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, uid, found, err := parseSockDiag(tc.buf, 1)
			if uid != tc.uid || found != tc.found || (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseSockDiag(%s) = uid %d, found %v, %v; want uid %d, found %v, error %q", tc.name, uid, found, err, tc.uid, tc.found, tc.wantErr)
			}
		})
	}
}
