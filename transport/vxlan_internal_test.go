package transport

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"l2hub/hub"
)

// vxFrame is a 60-byte Ethernet frame from 02:00:00:00:00:SRC to DST.
func vxFrame(dst [6]byte, src byte) []byte {
	f := make([]byte, 60)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, src, 0x88, 0xb5})
	return f
}

// TestVXLANDropsItsOwnDatagrams: a datagram from the port's own socket
// (something sent it back: a hairpinning forwarder, a learned VTEP that
// is this host) is dropped as own-echo, saying so, not read as the
// overlay's frame, and not counted as reflect, which the core counts on
// an overlay port in normal operation. Bound to every address, it comes
// from any of the host's addresses (as last listed) or loopback's, at the
// port's UDP port.
func TestVXLANDropsItsOwnDatagrams(t *testing.T) {
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("0.0.0.0:0"), VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:4789")}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	port := v.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	d := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xa1)...)
	for _, to := range []string{"127.0.0.1", "127.0.0.2"} {
		if _, err := v.c.WriteToUDPAddrPort(d, netip.AddrPortFrom(netip.MustParseAddr(to), port)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, DefaultMaxFrame)
		_, err := hub.ReadFrame(v, buf)
		var fe *hub.FrameError
		if !errors.As(err, &fe) || fe.Reason != hub.DropOwnEcho || !strings.Contains(err.Error(), "this port's own address") {
			t.Errorf("own datagram to %s: got %v, want an own-echo drop saying it is the port's own", to, err)
		}
	}
}
