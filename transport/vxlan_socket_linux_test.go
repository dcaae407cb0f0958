//go:build linux

package transport

import (
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
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

// TestVXLANGroupLearnsAtTheOverlaysPort: with group=, a member's MAC is
// learned at the member's IP and the overlay's UDP port (this port's own,
// 4789 here), where its VTEP listens, not at the source port a kernel
// VTEP picks per flow. Needs root, for a namespace in which 4789 is free.
func TestVXLANGroupLearnsAtTheOverlaysPort(t *testing.T) {
	InOwnNetns(t, "", func(*netlink.Handle) error {
		v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:4789"), VNI: 42,
			Group: netip.MustParseAddr("239.7.7.8"), Silence: -1})
		if err != nil {
			return err
		}
		defer v.Close()
		d := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xa1)...)
		if _, err := v.decap(d, netip.MustParseAddrPort("127.0.0.3:50123"), DefaultMaxFrame, false); err != nil {
			return err
		}
		want := netip.MustParseAddrPort("127.0.0.3:4789")
		if got, ok := v.fdb.lookup([6]byte{0x02, 0, 0, 0, 0, 0xa1}); !ok || got != want {
			t.Errorf("got the member's MAC learned at %v (%v), want %v", got, ok, want)
		}
		return nil
	})
}
