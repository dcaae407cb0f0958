package transport

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// TestVXLANSprayKeepsTheHubsSide: a remote sending from ever new source
// MACs fills the learning table, pushing out what the remotes' MACs it
// holds, never this hub's side (a VM behind this hub, which the port sent
// a frame from) while a remote's is left. So a remote that then sends
// with that VM's address is still seen to take it over (a move, counted
// and logged); the spray used to push the VM's entry out first, and the
// take-over went unseen.
func TestVXLANSprayKeepsTheHubsSide(t *testing.T) {
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	r := netip.MustParseAddrPort("127.0.0.2:4789")
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42, Remotes: []netip.AddrPort{r},
		Clock: vc, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	victim := byte(0xa1) // 02:00:00:00:00:a1
	if err := hub.WriteFrame(v, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, victim)); err != nil {
		t.Fatal(err)
	}
	from := func(mac [6]byte) {
		t.Helper()
		d := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0)...)
		copy(d[8+6:], mac[:])
		if _, err := v.decap(d, r, DefaultMaxFrame, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := range fdbSize {
		from([6]byte{0x06, 0, byte(i >> 16), byte(i >> 8), byte(i), 0})
		vc.Advance(time.Millisecond)
	}
	from([6]byte{0x02, 0, 0, 0, 0, victim})
	// fdbSize sprayed MACs in the fdbSize-1 places the VM's entry leaves.
	if got, want := v.Learning(), (hub.LearningStatus{Entries: fdbSize, Size: fdbSize, Evicted: 1, Moves: 1}); got != want {
		t.Errorf("after %d sprayed MACs, then the VM's from the remote: got Learning() = %+v, want %+v", fdbSize, got, want)
	}
}

// countingClock is a clock that counts its readings.
type countingClock struct {
	hub.Clock
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return c.Clock.Now()
}

// TestVXLANWriteReadsTheClockOnce: sending a unicast frame from a unicast
// source learns the source and looks up the destination in one call to
// the learning table, which takes its lock once and reads the clock once
// (under that lock, so that its lists stay in the order of their times).
// It used to take the lock the reader learns under twice per frame, and
// read the clock twice.
func TestVXLANWriteReadsTheClockOnce(t *testing.T) {
	c := &countingClock{Clock: hub.NewVirtualClock(hub.DefaultEpoch)}
	r := netip.MustParseAddrPort("127.0.0.2:4789")
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42, Remotes: []netip.AddrPort{r},
		Clock: c, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.learn([6]byte{0x02, 0, 0, 0, 0, 0xb2}, r)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"to-a-learned-mac", vxFrame([6]byte{0x02, 0, 0, 0, 0, 0xb2}, 0xa1)},
		{"to-an-unknown-mac", vxFrame([6]byte{0x02, 0, 0, 0, 0, 0xb3}, 0xa1)},
		{"broadcast", vxFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0xa1)},
	} {
		before := c.reads.Load()
		if err := hub.WriteFrame(v, tc.frame); err != nil {
			t.Fatal(err)
		}
		if n := c.reads.Load() - before; n != 1 {
			t.Errorf("%s: got %d readings of the clock, want 1", tc.name, n)
		}
	}
}
