package transport

import (
	"net"
	"strings"
	"testing"
)

// TestBoundAddress: a listening tcp or udp spec keeps its host as written
// once bound and takes the bound port. Go reports an IPv4 wildcard bound
// dual-stack as [::]; kept, 0.0.0.0 stays 0.0.0.0 and its QEMU flags say
// 127.0.0.1, not ::1. A host name becomes what it resolved to.
func TestBoundAddress(t *testing.T) {
	v6any := &net.TCPAddr{IP: net.IPv6unspecified, Port: 7100}
	for _, tc := range []struct {
		spec  string
		bound net.Addr
		want  string
		host  string // QEMUArgs' addr.host for a tcp port of that address
	}{
		{"0.0.0.0:7100", v6any, "0.0.0.0:7100", "127.0.0.1"},
		{"0.0.0.0:0", v6any, "0.0.0.0:7100", "127.0.0.1"},
		{":0", v6any, ":7100", "127.0.0.1"},
		{"[::]:0", v6any, "[::]:7100", "::1"},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7100}, "127.0.0.1:7100", "127.0.0.1"},
		{"[::1]:0", &net.UDPAddr{IP: net.IPv6loopback, Port: 7100}, "[::1]:7100", "::1"},
		{"localhost:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7100}, "127.0.0.1:7100", "127.0.0.1"},
	} {
		got := boundAddress(tc.spec, tc.bound)
		if got != tc.want {
			t.Errorf("boundAddress(%q, %s) = %q, want %q", tc.spec, tc.bound, got, tc.want)
			continue
		}
		s := Spec{Name: "link", Transport: TCP, Address: got}
		args := s.QEMUArgs("n0")
		if want := "addr.host=" + tc.host + ",addr.port=7100"; len(args) == 0 || !strings.Contains(args[0], want) {
			t.Errorf("QEMUArgs of %s = %q, want %s", got, args, want)
		}
	}
}
