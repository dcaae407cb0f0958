package transport

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
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

// stubAddrs stands in for the system's addrSource: the addresses it
// lists, or the error, are the test's to change.
type stubAddrs struct {
	mu     sync.Mutex
	list   []netip.Addr
	err    error
	closed bool
}

func (s *stubAddrs) addrs() ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list), s.err
}

func (s *stubAddrs) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (s *stubAddrs) set(err error, list ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list, s.err = list, err
}

// useAddrSource has ports opened during the test take open's addrSource
// for the system's, and counts the opens.
func useAddrSource(t *testing.T, open func() (addrSource, error)) *atomic.Int32 {
	var n atomic.Int32
	saved := openAddrSource
	openAddrSource = func() (addrSource, error) {
		n.Add(1)
		return open()
	}
	t.Cleanup(func() { openAddrSource = saved })
	return &n
}

// freeWildcardPort returns a UDP port free on every address.
func freeWildcardPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// TestVXLANOpensWithoutTheHostsAddresses: a port lists the namespace's
// addresses only when bound to every address, the one case its own
// datagrams can come from them; bound to one address it never asks. One
// that cannot list them (netlink denied, as in some containers) opens
// anyway, saying at warn what it does not know, and knows its own
// datagrams by its UDP port on loopback. Every vxlan port used to fail to
// open then, those bound to one address included.
func TestVXLANOpensWithoutTheHostsAddresses(t *testing.T) {
	denied := errors.New("netlinkrib: permission denied")
	remote := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:4789")}
	for _, tc := range []struct {
		name, local string
		open        func() (addrSource, error)
		opens       int32 // of the addrSource
		warns       bool
		refreshes   bool
	}{
		{"one-address-never-lists", "127.0.0.1:0", func() (addrSource, error) { return nil, denied }, 0, false, false},
		{"wildcard-source-denied", "0.0.0.0:0", func() (addrSource, error) { return nil, denied }, 1, true, false},
		{"wildcard-listing-fails", "0.0.0.0:0", func() (addrSource, error) { return &stubAddrs{err: denied}, nil }, 1, true, true},
		{"wildcard-lists", "0.0.0.0:0", func() (addrSource, error) { return &stubAddrs{}, nil }, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opens := useAddrSource(t, tc.open)
			vc := hub.NewVirtualClock(hub.DefaultEpoch)
			var logs syncbuf.Buffer
			v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort(tc.local), VNI: 42, Remotes: remote,
				Clock: vc, Silence: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("got OpenVXLAN(%s) = %v, want it opened", tc.local, err)
			}
			defer v.Close()
			if got := opens.Load(); got != tc.opens {
				t.Errorf("opened the address source %d times, want %d", got, tc.opens)
			}
			warned := strings.Contains(logs.String(), "level=WARN msg=\"vxlan "+tc.local+": cannot list this host's addresses")
			if warned != tc.warns {
				t.Errorf("logged\n%s\nwant a warning that the addresses cannot be listed: %v", logs.String(), tc.warns)
			}
			if got := vc.Pending() == 1; got != tc.refreshes {
				t.Errorf("got %d timers, want a refresh of the list: %v", vc.Pending(), tc.refreshes)
			}
			port := v.bound.Port()
			if !v.own(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)) {
				t.Errorf("a datagram from its own address on loopback is not the port's own")
			}
		})
	}
}

// TestVXLANKnowsAddressesAddedAfterOpen: bound to every address, a port
// lists the namespace's addresses again every few seconds on its clock,
// so that an address added after open (DHCP, a VIP moving in) is its own
// within seconds: what the port sent there comes back as own-echo, not as
// the overlay's frames (its floods delivered to its own VMs again, their
// MACs taken for moves). A remote that has become such an address is
// logged at warn, once. A listing that fails keeps the last list. The
// port used to know only the addresses present at open.
func TestVXLANKnowsAddressesAddedAfterOpen(t *testing.T) {
	src := &stubAddrs{list: []netip.Addr{netip.MustParseAddr("10.9.0.1")}}
	useAddrSource(t, func() (addrSource, error) { return src, nil })
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	drv := &hub.Driver{Clock: vc}
	var logs syncbuf.Buffer
	p := freeWildcardPort(t)
	vip := netip.AddrPortFrom(netip.MustParseAddr("10.9.0.7"), p)
	v, err := OpenVXLAN(VXLANConfig{Local: netip.AddrPortFrom(netip.IPv4Unspecified(), p), VNI: 42, Remotes: []netip.AddrPort{vip},
		Clock: vc, Silence: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// advance moves the clock d on, waiting at each firing of the refresh
	// until it has listed and set itself again (the port's only timer).
	advance := func(d time.Duration) {
		t.Helper()
		drv.AdvanceTo(vc.Now().Add(d), func() {
			for deadline := time.Now().Add(hangGuard); vc.Pending() != 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the refresh did not set itself again")
				}
			}
		})
	}
	const nowOwn = `level=WARN msg="remote VTEP 10.9.0.7 is now this host's own address at the port's UDP port`
	if own, first := v.own(vip), v.own(netip.AddrPortFrom(netip.MustParseAddr("10.9.0.1"), p)); own || !first {
		t.Fatalf("at open: got own(%v) = %v, own(10.9.0.1:%d) = %v; want false, true", vip, own, p, first)
	}
	src.set(nil, netip.MustParseAddr("10.9.0.1"), vip.Addr())
	advance(selfRefresh)
	if !v.own(vip) {
		t.Errorf("an address added after open: not the port's own after %v", selfRefresh)
	}
	if n := strings.Count(logs.String(), nowOwn); n != 1 {
		t.Errorf("logged\n%s\nwant one line saying %q", logs.String(), nowOwn)
	}
	src.set(errors.New("netlink: timeout"))
	advance(3 * selfRefresh)
	if !v.own(vip) {
		t.Errorf("a listing that failed forgot the last list")
	}
	if n := strings.Count(logs.String(), "cannot list this host's addresses again"); n != 1 {
		t.Errorf("three listings failed: logged\n%s\nwant one warning", logs.String())
	}
	src.set(nil, netip.MustParseAddr("10.9.0.1"), vip.Addr())
	advance(selfRefresh)
	if !strings.Contains(logs.String(), "this host's addresses listed again") {
		t.Errorf("logged\n%s\nwant the listing's recovery", logs.String())
	}
	if n := strings.Count(logs.String(), nowOwn); n != 1 {
		t.Errorf("still the host's: logged\n%s\nwant %q once", logs.String(), nowOwn)
	}
	src.set(nil, netip.MustParseAddr("10.9.0.1"))
	advance(selfRefresh)
	if v.own(vip) {
		t.Errorf("an address removed: still the port's own after %v", selfRefresh)
	}
	v.Close()
	if n := vc.Pending(); n != 0 || !src.closed {
		t.Errorf("after Close: %d timers pending, source closed %v; want none, true", n, src.closed)
	}
}

// hangGuard bounds a wait for another goroutine (transporttest's, which
// this package's own tests cannot import).
const hangGuard = 10 * time.Second

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
