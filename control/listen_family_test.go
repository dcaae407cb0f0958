package control_test

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/control"
)

// TestTCPAddressBindsItsFamily: a metrics or control address with an
// IPv4 literal (tcp:0.0.0.0:P) listens on IPv4 alone; the IPv6 wildcard
// (tcp:[::]:P) and no host (tcp::P) on both families, as Go and the VM
// ports have them; another IPv6 literal (tcp:[::1]:P) on IPv6 alone. The
// bound address is shown in the form given, so it binds the same way
// when fed back.
func TestTCPAddressBindsItsFamily(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("this machine has no IPv6 loopback (%v): an IPv6 dial cannot tell the families apart", err)
	} else {
		l.Close()
	}
	t.Setenv(control.AllowRemoteEnv, "1")
	const token = "family-token-0123456789"
	for _, tc := range []struct {
		addr, shown string
		v4, v6      bool // reachable over 127.0.0.1, over [::1]
	}{
		{"tcp:0.0.0.0:0", "tcp:0.0.0.0:", true, false},
		{"tcp:127.0.0.1:0", "tcp:127.0.0.1:", true, false},
		{"tcp:[::]:0", "tcp:[::]:", true, true},
		{"tcp::0", "tcp:[::]:", true, true},
		{"tcp:[::1]:0", "tcp:[::1]:", false, true},
	} {
		for _, srv := range []struct {
			name   string
			listen func(addr string) (net.Listener, error)
		}{
			{"metrics", func(addr string) (net.Listener, error) { return control.ListenMetrics(addr, token) }},
			{"control", func(addr string) (net.Listener, error) { return control.Listen(addr, token) }},
		} {
			t.Run(srv.name+"/"+tc.addr, func(t *testing.T) {
				l, err := srv.listen(tc.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				shown := control.Addr(l)
				if !strings.HasPrefix(shown, tc.shown) || strings.HasSuffix(shown, ":0") {
					t.Errorf("got Addr = %q, want %sPORT", shown, tc.shown)
				}
				port := shown[strings.LastIndex(shown, ":")+1:]
				for _, dial := range []struct {
					host string
					want bool
				}{{"127.0.0.1", tc.v4}, {"::1", tc.v6}} {
					c, err := (&net.Dialer{Timeout: 10 * time.Second}).Dial("tcp", net.JoinHostPort(dial.host, port))
					if err == nil {
						c.Close()
					}
					if got := err == nil; got != dial.want {
						t.Errorf("got a dial to %s = %v, want reachable %v", net.JoinHostPort(dial.host, port), err, dial.want)
					}
				}
			})
		}
	}
}

// TestMetricsAddrShownAsGiven: the bound address a metrics listener
// reports (the banner's, the ready file's) is in the family given.
func TestMetricsAddrShownAsGiven(t *testing.T) {
	l, err := control.ListenMetrics("tcp:127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := control.Addr(l); !strings.HasPrefix(got, "tcp:127.0.0.1:") || strings.HasSuffix(got, ":0") {
		t.Errorf("got Addr = %q, want tcp:127.0.0.1:PORT", got)
	}
}

// TestShortTokenRefused: a token shorter than MinTokenLen is refused where
// one is required (a TCP control address, a metrics address other than
// loopback), saying how to make one; a control socket's or a loopback
// metrics address's, which need none, is taken.
func TestShortTokenRefused(t *testing.T) {
	t.Setenv(control.AllowRemoteEnv, "1")
	short := strings.Repeat("x", control.MinTokenLen-1)
	enough := strings.Repeat("x", control.MinTokenLen)
	for _, tc := range []struct {
		name    string
		listen  func(token string) (net.Listener, error)
		refused bool
	}{
		{"control-tcp", func(tok string) (net.Listener, error) { return control.Listen("tcp:127.0.0.1:0", tok) }, true},
		{"control-socket", func(tok string) (net.Listener, error) {
			return control.Listen(filepath.Join(t.TempDir(), "c.sock"), tok)
		}, false},
		{"metrics-remote", func(tok string) (net.Listener, error) { return control.ListenMetrics("tcp:0.0.0.0:0", tok) }, true},
		{"metrics-loopback", func(tok string) (net.Listener, error) { return control.ListenMetrics("tcp:127.0.0.1:0", tok) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := tc.listen(short)
			if err == nil {
				l.Close()
			}
			switch {
			case tc.refused && (!errors.Is(err, control.ErrShortToken) || !strings.Contains(err.Error(), "at least 16") || !strings.Contains(err.Error(), "/dev/urandom")):
				t.Errorf("got %v with a %d-character token, want ErrShortToken saying how to make one", err, len(short))
			case !tc.refused && err != nil:
				t.Errorf("got %v with a %d-character token, want it taken: it needs none", err, len(short))
			}
			l, err = tc.listen(enough)
			if err != nil {
				t.Fatalf("got %v with a %d-character token, want it taken", err, len(enough))
			}
			l.Close()
		})
	}
}
