package control_test

import (
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
