//go:build linux

package transport

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVXLANSocketOptions: a group VTEP's socket hears only its own group
// (IP_MULTICAST_ALL off) and sends with the ttl= asked for, unicast and
// multicast; without ttl= a group's datagrams keep the system's TTL of 1.
func TestVXLANSocketOptions(t *testing.T) {
	for _, tc := range []struct {
		ttl, wantTTL, wantMcastTTL int
	}{
		{ttl: 16, wantTTL: 16, wantMcastTTL: 16},
		{ttl: 0, wantTTL: -1, wantMcastTTL: 1}, // -1: the system's default, whatever it is
	} {
		cfg := VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 1, Group: netip.MustParseAddr("239.7.7.7"), TTL: tc.ttl}
		c, err := vxlanSocket(cfg)
		if err != nil {
			t.Skipf("cannot join a group on loopback here: %v", err)
		}
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var ttl, mttl, all int
		var gerr error
		rc.Control(func(fd uintptr) {
			ttl, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL)
			if gerr == nil {
				mttl, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL)
			}
			if gerr == nil {
				all, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL)
			}
		})
		c.Close()
		if gerr != nil {
			t.Fatal(gerr)
		}
		if (tc.wantTTL >= 0 && ttl != tc.wantTTL) || mttl != tc.wantMcastTTL || all != 0 {
			t.Errorf("ttl=%d: IP_TTL %d, IP_MULTICAST_TTL %d, IP_MULTICAST_ALL %d; want %d, %d, 0",
				tc.ttl, ttl, mttl, all, tc.wantTTL, tc.wantMcastTTL)
		}
	}
}
