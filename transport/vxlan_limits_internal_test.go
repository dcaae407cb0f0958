package transport

import (
	"errors"
	"net/netip"
	"testing"

	"l2hub/hub"
)

// openLoopVTEP opens a VTEP on loopback with one remote and cfg's MTU and VNI.
func openLoopVTEP(t *testing.T, mtu int, vni uint32) (*VXLANConn, netip.AddrPort, error) {
	t.Helper()
	r := netip.MustParseAddrPort("127.0.0.2:4789")
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: vni, MTU: mtu,
		Remotes: []netip.AddrPort{r}, Silence: -1})
	if err == nil {
		t.Cleanup(func() { v.Close() })
	}
	return v, r, err
}

// TestVXLANMaxFrameIsMTULessOverhead: the largest inner frame is the
// underlay's MTU less the outer IPv4, UDP and VXLAN headers (36 bytes):
// the full-size frame of a guest whose MTU is what HostNote tells users
// to set (MTU less VXLANGuestMTUOverhead), and not a byte more, which
// would make a datagram larger than the underlay carries.
func TestVXLANMaxFrameIsMTULessOverhead(t *testing.T) {
	for _, tc := range []struct{ mtu, underlay, want int }{{0, 1500, 1464}, {1500, 1500, 1464}, {9000, 9000, 8964}} {
		v, _, err := openLoopVTEP(t, tc.mtu, 42)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.MaxFrame(); got != tc.want {
			t.Errorf("MTU %d: got MaxFrame() = %d, want %d", tc.mtu, got, tc.want)
		}
		if guest := tc.underlay - VXLANGuestMTUOverhead; v.MaxFrame() != guest+14 {
			t.Errorf("MTU %d: got MaxFrame() = %d, want a guest's full frame at MTU %d, %d", tc.mtu, v.MaxFrame(), guest, guest+14)
		}
	}
}

// TestVXLANOpenRefusesOutOfRange: an MTU below IPv4's 576 and a VNI
// beyond 24 bits (which would be truncated onto another overlay's) are
// refused; the bounds themselves are accepted.
func TestVXLANOpenRefusesOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		mtu int
		vni uint32
		ok  bool
	}{
		{minVXLANMTU - 1, 42, false}, {minVXLANMTU, 42, true},
		{0, maxVNI + 1, false}, {0, maxVNI, true},
	} {
		_, _, err := openLoopVTEP(t, tc.mtu, tc.vni)
		if (err == nil) != tc.ok {
			t.Errorf("got OpenVXLAN(MTU %d, VNI %d) = %v, want %s", tc.mtu, tc.vni, err, wantText(tc.ok))
		}
	}
}

// TestVXLANDecapHonoursTheHubsLimit: an inner frame within the overlay's
// MTU but above the hub's max_frame is refused as oversize: the core
// trusts every transport to apply the limit it reads with.
func TestVXLANDecapHonoursTheHubsLimit(t *testing.T) {
	v, r, err := openLoopVTEP(t, 9000, 42)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size int
		ok   bool
	}{{1518, true}, {1519, false}, {2000, false}} {
		inner := make([]byte, tc.size)
		copy(inner, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xa1))
		d := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, inner...)
		_, err := v.decap(d, r, 1518, false)
		var fe *hub.FrameError
		if tc.ok && err != nil || !tc.ok && (!errors.As(err, &fe) || fe.Reason != hub.DropOversize) {
			t.Errorf("%d-byte inner frame, limit 1518: got %v, want %s", tc.size, err, wantText(tc.ok))
		}
	}
}

// TestVXLANGroupSourceIsNotLearned: an inner frame with a group source
// address is carried but takes no place in the overlay's fdb.
func TestVXLANGroupSourceIsNotLearned(t *testing.T) {
	v, r, err := openLoopVTEP(t, 0, 42)
	if err != nil {
		t.Fatal(err)
	}
	d := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xa1)...)
	copy(d[8+6:], []byte{0x01, 0, 0x5e, 0, 0, 1})
	if _, err := v.decap(d, r, DefaultMaxFrame, false); err != nil {
		t.Fatalf("group source: got %v, want the frame carried", err)
	}
	if got := v.Learning().Entries; got != 0 {
		t.Errorf("after a group source: got %d fdb entries, want 0", got)
	}
	copy(d[8+6:], []byte{0x02, 0, 0, 0, 0, 0xa1})
	if _, err := v.decap(d, r, DefaultMaxFrame, false); err != nil {
		t.Fatal(err)
	}
	if got := v.Learning().Entries; got != 1 {
		t.Errorf("after a unicast source: got %d fdb entries, want 1", got)
	}
}

func wantText(ok bool) string {
	if ok {
		return "accepted"
	}
	return "refused (oversize, for a frame)"
}
