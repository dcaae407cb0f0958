package control_test

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
)

// TestTCPAddressBindsItsFamily: tcp:0.0.0.0:P (metrics or control) listens
// on IPv4 alone, as asked, rather than on IPv6 too; an IPv6 literal on
// IPv6 alone; a name as Go resolves it.
func TestTCPAddressBindsItsFamily(t *testing.T) {
	for _, tc := range []struct{ hostport, want string }{
		{"0.0.0.0:9465", "tcp4"},
		{"127.0.0.1:9465", "tcp4"},
		{"192.0.2.1:0", "tcp4"},
		{"[::]:9465", "tcp6"},
		{"[::1]:0", "tcp6"},
		{"localhost:9465", "tcp"},
		{":9465", "tcp"},
	} {
		if got := control.TCPNetwork(tc.hostport); got != tc.want {
			t.Errorf("got TCPNetwork(%q) = %q, want %q", tc.hostport, got, tc.want)
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

// TestShortTokenRefused: a hub is not guarded by a token shorter than
// MinTokenLen, control or metrics, and the error says how to make one.
func TestShortTokenRefused(t *testing.T) {
	short := strings.Repeat("x", control.MinTokenLen-1)
	enough := strings.Repeat("x", control.MinTokenLen)
	for _, tc := range []struct {
		name   string
		listen func(token string) (net.Listener, error)
	}{
		{"control-tcp", func(tok string) (net.Listener, error) { return control.Listen("tcp:127.0.0.1:0", tok) }},
		{"control-unix", func(tok string) (net.Listener, error) {
			return control.Listen(filepath.Join(t.TempDir(), "c.sock"), tok)
		}},
		{"metrics", func(tok string) (net.Listener, error) { return control.ListenMetrics("tcp:127.0.0.1:0", tok) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := tc.listen(short)
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, control.ErrShortToken) || !strings.Contains(err.Error(), "at least 16") || !strings.Contains(err.Error(), "/dev/urandom") {
				t.Errorf("got %v with a %d-character token, want ErrShortToken saying how to make one", err, len(short))
			}
			l, err = tc.listen(enough)
			if err != nil {
				t.Fatalf("got %v with a %d-character token, want it taken", err, len(enough))
			}
			l.Close()
		})
	}
}
