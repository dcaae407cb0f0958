package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// TestCheckTCPPeerDecides: what the client does with what the lookup of a
// TCP server's owner says, without root to run another user's server:
// another user's server is refused naming its uid, and so is a loopback
// server this host has no socket for, and any server when the lookup
// cannot be made; each refusal says how to go on (a unix socket). A server
// of the caller's or root's, and one on another host, are talked to.
func TestCheckTCPPeerDecides(t *testing.T) {
	other := os.Getuid() + 1000
	for _, tc := range []struct {
		name   string
		remote string
		uid    int
		found  bool
		err    error
		want   string // "" for talked to
	}{
		{"own", "127.0.0.1", os.Getuid(), true, nil, ""},
		{"root's", "127.0.0.1", 0, true, nil, ""},
		{"another user's", "127.0.0.1", other, true, nil, fmt.Sprintf("served by uid %d", other)},
		{"unmapped", "127.0.0.1", overflowUID, true, nil, "user namespace"},
		{"loopback-not-found", "127.0.0.2", 0, false, nil, "no TCP socket of this host holds"},
		{"ipv6-loopback-not-found", "::1", 0, false, nil, "no TCP socket of this host holds"},
		{"another-host", "192.0.2.1", 0, false, nil, ""},
		{"no-lookup", "192.0.2.1", 0, false, fmt.Errorf("%w: NETLINK_SOCK_DIAG: protocol not supported; and open /proc/net/tcp: no such file", errNoLookup), "cannot be told"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverUID = func(net.Conn) (int, bool, error) { return tc.uid, tc.found, tc.err }
			defer func() { serverUID = tcpServerUID }()
			c := fakeTCPConn{remote: &net.TCPAddr{IP: net.ParseIP(tc.remote), Port: 7291}}
			err := checkTCPPeer(c, "tcp:"+c.remote.String())
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkTCPPeer(uid %d, found %v, %v) = %v, want nil", tc.uid, tc.found, tc.err, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "unix socket")):
				t.Errorf("checkTCPPeer(uid %d, found %v, %v) = %v, want a refusal saying %q and how to go on", tc.uid, tc.found, tc.err, err, tc.want)
			case tc.name == "another user's" && !errors.Is(err, ErrNotYours):
				t.Errorf("checkTCPPeer(another user's) = %v, want ErrNotYours", err)
			case tc.name == "another user's" && strings.Contains(err.Error(), "runuser"):
				// Running the command as that user sends the squatter the
				// token: runuser keeps $L2HUB_CONTROL_TOKEN.
				t.Errorf("checkTCPPeer(another user's) = %v, want no advice to run it as that user", err)
			}
		})
	}
}

// fakeTCPConn is a connection with a remote TCP address alone.
type fakeTCPConn struct {
	net.Conn
	remote *net.TCPAddr
}

func (c fakeTCPConn) RemoteAddr() net.Addr { return c.remote }
func (c fakeTCPConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

// TestCheckTCPPeerHostAddress: at an address of this host's other than
// loopback, a server that no socket of this host holds is refused, as on
// loopback: it is not another host's.
func TestCheckTCPPeerHostAddress(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("skipping: this host's addresses cannot be listed: %v", err)
	}
	var host net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			host = n.IP
			break
		}
	}
	if host == nil {
		t.Skip("skipping: this host has no address but loopback")
	}
	serverUID = func(net.Conn) (int, bool, error) { return 0, false, nil }
	defer func() { serverUID = tcpServerUID }()
	c := fakeTCPConn{remote: &net.TCPAddr{IP: host, Port: 7291}}
	if err := checkTCPPeer(c, "tcp:"+c.remote.String()); err == nil || !strings.Contains(err.Error(), "no TCP socket of this host holds") {
		t.Errorf("checkTCPPeer(%v, not found) = %v, want a refusal", c.remote, err)
	}
}

// TestMaxInjectionsDefault: a MaxInjections of 0 or less is the default,
// not a bound that refuses every stream.
func TestMaxInjectionsDefault(t *testing.T) {
	for _, n := range []int{0, -1} {
		if got := (&Server{MaxInjections: n}).maxInjections(); got != DefaultMaxInjections {
			t.Errorf("Server{MaxInjections: %d}.maxInjections() = %d, want %d", n, got, DefaultMaxInjections)
		}
	}
	if got := (&Server{MaxInjections: 3}).maxInjections(); got != 3 {
		t.Errorf("Server{MaxInjections: 3}.maxInjections() = %d, want 3", got)
	}
}
