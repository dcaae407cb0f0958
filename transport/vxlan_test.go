package transport_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

func TestVXLANSpec(t *testing.T) {
	s, err := transport.ParseSpec("x=vxlan:10.0.0.1:4789,remote=10.0.0.2,remote=10.0.0.3:4790,vni=42,mtu=9000")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Options.Values("remote"); !reflect.DeepEqual(got, []string{"10.0.0.2", "10.0.0.3:4790"}) {
		t.Errorf("remotes %q, want both, in order", got)
	}
	if back, err := transport.ParseSpec(s.String()); err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("ParseSpec(%q) = %#v, %v; want %#v", s.String(), back, err, s)
	}
	if h := s.PortOptions().Horizon; h != "vxlan/42" {
		t.Errorf("horizon %q, want vxlan/42: the overlay's ports are one split-horizon group", h)
	}
	if note := s.HostNote(); !strings.Contains(note, "MTU of at most 8950") {
		t.Errorf("host note %q, want the VMs' MTU (9000 - 50)", note)
	}
	for _, tc := range []struct{ text, msg string }{
		{"x=vxlan:10.0.0.1:4789,vni=42", "needs remote="},
		{"x=vxlan:10.0.0.1:4789,remote=10.0.0.2", "needs vni="},
		{"x=vxlan:10.0.0.1:4789,remote=10.0.0.2,group=239.1.1.1,vni=1", "not both"},
		{"x=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=16777216", "0..16777215"},
		{"x=vxlan:10.0.0.1:4789,remote=nohost,vni=1", "IPv4 address"},
		{"x=vxlan:10.0.0.1:4789,group=10.0.0.9,vni=1", "multicast group"},
		{"x=vxlan:10.0.0.1,remote=10.0.0.2,vni=1", "UDP port"},
		{"x=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=1,mtu=100", "underlay's MTU"},
		{"x=vxlan:10.0.0.1:4789,remote=10.0.0.2,vni=1,vni=2", "given twice"},
		{"x=vxlan:10.0.0.1:4789,group=239.1.1.1,vni=1,ttl=0", "time to live, 1..255"},
		{"x=vxlan:10.0.0.1:4789,group=239.1.1.1,vni=1,ttl=256", "time to live, 1..255"},
	} {
		if _, err := transport.ParseSpec(tc.text); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseSpec(%q) = %v, want an error saying %q", tc.text, err, tc.msg)
		}
	}
}

// TestVXLANSpecRemotes: a VTEP named twice as a remote (the same text, or
// once without the port, which defaults to the local one) would get every
// flooded frame twice, and the port's own address as a remote would send
// the hub its own datagrams: both are refused at parse time, naming the
// remote. Without remote= and group= the error asks for one of them; with
// both, it says not both.
func TestVXLANSpecRemotes(t *testing.T) {
	for _, tc := range []struct {
		name, text, field string
		msgs              []string // each must appear
	}{
		{"same-text-twice", "d=vxlan:10.99.10.1:4790,remote=10.99.10.2,remote=10.99.10.2,vni=7", "options.remote",
			[]string{"remote 10.99.10.2 is given twice", "every flooded frame twice"}},
		{"with-and-without-default-port", "d=vxlan:10.99.10.1:4789,remote=10.99.10.2,remote=10.99.10.2:4789,vni=7", "options.remote",
			[]string{"remotes 10.99.10.2 and 10.99.10.2:4789 are one VTEP, 10.99.10.2:4789"}},
		{"the-local-port-is-the-default", "d=vxlan:10.99.10.1:4790,remote=10.99.10.2:4790,remote=10.99.10.3,remote=10.99.10.2,vni=7", "options.remote",
			[]string{"remotes 10.99.10.2:4790 and 10.99.10.2 are one VTEP"}},
		{"own-address", "d=vxlan:10.99.10.1:4790,remote=10.99.10.1:4790,vni=7", "options.remote",
			[]string{"remote 10.99.10.1:4790 is this port's own address 10.99.10.1:4790", "to itself"}},
		{"own-address-by-default-port", "d=vxlan:10.99.10.1:4790,remote=10.99.10.2,remote=10.99.10.1,vni=7", "options.remote",
			[]string{"remote 10.99.10.1 is this port's own address 10.99.10.1:4790", "without a port has the local one"}},
		{"own-address-mapped-local", "d=vxlan:[::ffff:10.99.10.1]:4790,remote=10.99.10.1:4790,vni=7", "options.remote",
			[]string{"own address 10.99.10.1:4790"}},
		{"neither-remote-nor-group", "ov=vxlan:10.99.10.1:4800,vni=4", "options.remote",
			[]string{"needs remote= (each VTEP, repeatable) or group= (a multicast group)"}},
		{"remote-and-group", "ov=vxlan:10.99.10.1:4800,remote=10.99.10.2,group=239.1.1.1,vni=4", "options.group",
			[]string{"remote=", "group=", "not both"}},
		{"broadcast-remote", "ov=vxlan:10.99.10.1:4800,remote=10.99.10.2,remote=255.255.255.255,vni=4", "options.remote",
			[]string{"remote 255.255.255.255: the broadcast address is no VTEP"}}, // of two: which one
		{"broadcast-remote-with-port", "ov=vxlan:10.99.10.1:4800,remote=255.255.255.255:4789,vni=4", "options.remote",
			[]string{"the broadcast address is no VTEP"}},
		// A remote's port changes nothing: an address that is no one VTEP
		// is refused with it as without it. Alone, it is not named twice.
		{"multicast-remote", "ov=vxlan:10.99.10.1:4800,remote=239.1.1.1,vni=4", "options.remote",
			[]string{`options.remote "239.1.1.1": a multicast address is no VTEP`, "give it as group="}},
		{"multicast-remote-with-port", "ov=vxlan:10.99.10.1:4800,remote=239.1.1.1:4789,vni=4", "options.remote",
			[]string{`options.remote "239.1.1.1:4789": a multicast address is no VTEP`, "give it as group="}},
		{"mapped-multicast-remote-with-port", "ov=vxlan:10.99.10.1:4800,remote=[::ffff:239.1.1.1]:4789,vni=4", "options.remote",
			[]string{"a multicast address is no VTEP"}},
		{"unspecified-remote", "ov=vxlan:10.99.10.1:4800,remote=0.0.0.0,vni=4", "options.remote",
			[]string{`options.remote "0.0.0.0": the unspecified address is no VTEP`, "the remote VTEP's own address"}},
		{"unspecified-remote-with-port", "ov=vxlan:10.99.10.1:4795,remote=0.0.0.0:4795,vni=4", "options.remote",
			[]string{`options.remote "0.0.0.0:4795": the unspecified address is no VTEP`, "the remote VTEP's own address"}},
		{"multicast-local", "ov=vxlan:239.1.1.1:4796,remote=10.99.10.2,vni=4", "address",
			[]string{"a multicast address is no local address", "group="}},
		{"broadcast-local", "ov=vxlan:255.255.255.255:4796,remote=10.99.10.2,vni=4", "address",
			[]string{"the broadcast address is no local address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transport.ParseSpec(tc.text)
			var se *transport.SpecError
			if !errors.As(err, &se) || se.Field != tc.field {
				t.Fatalf("ParseSpec(%q) = %v, want a SpecError on %s", tc.text, err, tc.field)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("ParseSpec(%q) = %q, want it to say %q", tc.text, err, m)
				}
			}
			if tc.name == "neither-remote-nor-group" && strings.Contains(err.Error(), "not both") {
				t.Errorf("ParseSpec(%q) = %q: with neither given, it must not say \"not both\"", tc.text, err)
			}
		})
	}
	// Different VTEPs, or one address on different ports, are fine; so is
	// the local address on another port (a second hub on this host).
	for _, text := range []string{
		"d=vxlan:10.99.10.1:4790,remote=10.99.10.2,remote=10.99.10.2:4791,remote=10.99.10.3,vni=7",
		"d=vxlan:10.99.10.1:4790,remote=10.99.10.1:4791,vni=7",
		"d=vxlan:0.0.0.0:4790,remote=10.99.10.1,vni=7",
	} {
		if _, err := transport.ParseSpec(text); err != nil {
			t.Errorf("ParseSpec(%q): %v, want it accepted", text, err)
		}
	}
}

// vxlanPair is two VTEPs on loopback, each the other's only remote, with
// VNI 42: two hubs joined by an overlay.
func vxlanPair(t *testing.T) (a, b *transport.VXLANConn) {
	t.Helper()
	ab := freeUDPAddrs(t, 2)
	pa, pb := ab[0], ab[1]
	open := func(local, remote string) *transport.VXLANConn {
		c, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42,
			Remotes: []netip.AddrPort{netip.MustParseAddrPort(remote)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return open(pa, pb), open(pb, pa)
}

func TestVXLANCarriesFramesBothWays(t *testing.T) {
	a, b := vxlanPair(t)
	for _, size := range []int{transport.MinFrame, 60, a.MaxFrame()} {
		f := transporttest.Frame(0xa1, size, size)
		if err := hub.WriteFrame(a, f); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		buf := make([]byte, transport.DefaultMaxFrame)
		n, err := hub.ReadFrame(b, buf)
		if err != nil || !bytes.Equal(buf[:n], f) {
			t.Fatalf("%d bytes: read %d bytes, %v; want the frame", size, n, err)
		}
	}
	var fe *hub.FrameError
	if err := hub.WriteFrame(a, transporttest.Frame(0xa1, a.MaxFrame()+1, 0)); !errors.As(err, &fe) || fe.Reason != hub.DropOversize {
		t.Errorf("a frame past the underlay's MTU: %v, want DropOversize, not fragmented", err)
	}
}

// TestVXLANDecapsulation sends hand-made datagrams to a VTEP: each is the
// inner frame or a counted refusal.
func TestVXLANDecapsulation(t *testing.T) {
	a, _ := vxlanPair(t)
	hubAddr := a.LocalAddr().(*net.UDPAddr)
	// a accepts its remote's IP, 127.0.0.1, from any port (the kernel
	// sends from a port it picks per flow); 127.0.0.2 is a stranger.
	listen := func(ip net.IP) *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	remote, stranger := listen(net.IPv4(127, 0, 0, 1)), listen(net.IPv4(127, 0, 0, 2))
	frame := transporttest.Frame(0xb2, 60, 1)
	hdr := func(flags byte, vni uint32) []byte {
		return []byte{flags, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	}
	for _, tc := range []struct {
		name     string
		d        []byte
		want     hub.DropReason
		stranger bool
	}{
		{"good", append(hdr(0x08, 42), frame...), hub.DropNone, false},
		{"stranger", append(hdr(0x08, 42), frame...), hub.DropForeign, true},
		{"reserved-bits-ignored", append(hdr(0x88, 42), frame...), hub.DropNone, false},
		{"no-i-flag", append(hdr(0x00, 42), frame...), hub.DropEncap, false},
		{"truncated-header", hdr(0x08, 42)[:5], hub.DropEncap, false},
		{"other-vni", append(hdr(0x08, 43), frame...), hub.DropVNI, false},
		{"inner-runt", append(hdr(0x08, 42), frame[:10]...), hub.DropRunt, false},
		{"inner-oversize", append(hdr(0x08, 42), transporttest.Frame(0xb2, a.MaxFrame()+1, 2)...), hub.DropOversize, false},
	} {
		from := remote
		if tc.stranger {
			from = stranger
		}
		if _, err := from.WriteToUDP(tc.d, hubAddr); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, transport.DefaultMaxFrame)
		n, err := hub.ReadFrame(a, buf)
		var fe *hub.FrameError
		switch {
		case tc.want == hub.DropNone && (err != nil || !bytes.Equal(buf[:n], frame)):
			t.Errorf("%s: read %d bytes, %v; want the inner frame", tc.name, n, err)
		case tc.want != hub.DropNone && (!errors.As(err, &fe) || fe.Reason != tc.want):
			t.Errorf("%s: %v, want a %s drop", tc.name, err, tc.want)
		}
	}
}

// BenchmarkVXLANFlood is what head-end replication costs: one broadcast
// frame sent to every remote of a vxlan port, one datagram each (on
// loopback; no VTEP listens, so only the sending side is measured). The
// ns/remote metric is the cost one more VTEP adds to every broadcast.
func BenchmarkVXLANFlood(b *testing.B) {
	for _, n := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("remotes-%d", n), func(b *testing.B) {
			local := freeUDPAddr(b)
			var remotes []netip.AddrPort
			for i := range n {
				// A socket at each remote that never reads: the kernel
				// drops what overflows it, and no ICMP error is made.
				ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}), 4789)
				c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
				if err != nil {
					b.Skipf("bind %s: %v", ap, err)
				}
				defer c.Close()
				remotes = append(remotes, ap)
			}
			v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 1, Remotes: remotes})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			frames := []*hub.Frame{hub.FrameOf(transporttest.Frame(0xa1, 1400, 0))}
			frames[0].Bytes()[0] = 0xff // broadcast
			b.ReportAllocs()
			b.SetBytes(int64(n * frames[0].Len()))
			for b.Loop() {
				if _, err := v.WriteFrames(frames); err != nil {
					var fe *hub.FrameError
					if !errors.As(err, &fe) {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/remote")
		})
	}
}

// TestVXLANUnreachableRemoteLosesItsCopy: a remote the underlay refuses to
// send to (here loopback's broadcast address, which a socket without
// SO_BROADCAST may not reach: EACCES, as a prohibit route or a firewall
// gives; 255.255.255.255 is refused at open) costs a
// flood only that remote's copy, and a frame for it alone is a counted
// loss; the port goes on either way, where such an error used to end it.
func TestVXLANUnreachableRemoteLosesItsCopy(t *testing.T) {
	ab := freeUDPAddrs(t, 2)
	pa, pb := ab[0], ab[1]
	bad := netip.MustParseAddrPort("127.255.255.255:4789")
	open := func(local string, remotes ...netip.AddrPort) *transport.VXLANConn {
		c, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42, Remotes: remotes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	b := open(pb, netip.MustParseAddrPort(pa))
	a := open(pa, bad, netip.MustParseAddrPort(pb))
	flood := broadcast(0xa1, 1)
	if err := hub.WriteFrame(a, flood); err != nil {
		t.Fatalf("a flood with one remote unreachable: %v, want it delivered to the other", err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	if n, err := hub.ReadFrame(b, buf); err != nil || !bytes.Equal(buf[:n], flood) {
		t.Fatalf("the reachable remote read %d bytes, %v; want the flood", n, err)
	}

	alone := open(freeUDPAddr(t), bad)
	var fe *hub.FrameError
	if err := hub.WriteFrame(alone, flood); !errors.As(err, &fe) || fe.Reason != hub.DropDown {
		t.Fatalf("a flood no remote takes: %v, want a frame's loss (DropDown), not the port's end", err)
	}
	if err := hub.WriteFrame(alone, flood); !errors.As(err, &fe) {
		t.Fatalf("the next frame: %v, want the port still there and the frame lost again", err)
	}
}

// TestVXLANHorizonIsTheVNI: ports of one overlay share a split-horizon
// group whatever the VNI's spelling (vni=042 is vni=42), so that a frame
// from one is never sent out of the other; another VNI is another group.
func TestVXLANHorizonIsTheVNI(t *testing.T) {
	horizon := func(text string) string {
		s, err := transport.ParseSpec(text)
		if err != nil {
			t.Fatal(err)
		}
		return s.PortOptions().Horizon
	}
	x := horizon("x=vxlan:127.0.0.1:4791,remote=127.0.0.2,vni=42")
	if y := horizon("y=vxlan:127.0.0.1:4792,remote=127.0.0.3,vni=042"); y != x {
		t.Errorf("vni=042 is in horizon %q, vni=42 in %q: want one overlay", y, x)
	}
	if z := horizon("z=vxlan:127.0.0.1:4793,remote=127.0.0.4,vni=43"); z == x {
		t.Errorf("vni=43 shares vni=42's horizon %q", x)
	}
}

// TestVXLANRemoteSilence: a remote VTEP that goes away is seen, since its
// ICMP errors are not: the port counts each remote's datagrams both ways
// and when it last heard from it, and logs a remote that was heard and
// then sent nothing for the silence period (30s by default) once, and
// again once it is heard from. A remote never heard is never logged (its
// side may have nothing to send). Time is a virtual clock's.
func TestVXLANRemoteSilence(t *testing.T) {
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	drv := &hub.Driver{Clock: vc}
	var logs syncbuf.Buffer
	ab := freeUDPAddrs(t, 2)
	pa, pb := ab[0], ab[1]
	silent := netip.MustParseAddrPort("127.0.0.3:4789") // nothing listens: never heard
	a, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(pa), VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort(pb), silent},
		Clock:   vc, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(pb), VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort(pa)}, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	// advance moves the clock d on, waiting at each firing of a's check
	// until it has logged and set itself again (its only timer). A check
	// that keeps setting itself for the same instant would never let the
	// clock move: it fails the test instead, after many more firings than
	// d needs (one per 30s at most, here).
	advance := func(d time.Duration) {
		t.Helper()
		steps := 0
		drv.AdvanceTo(vc.Now().Add(d), func() {
			if steps++; steps > 1000 {
				t.Fatalf("the silence check fired %d times in %v at %v: it keeps setting itself for now", steps, d, vc.Now())
			}
			for deadline := time.Now().Add(transporttest.HangGuard); vc.Pending() != 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the silence check did not set itself again")
				}
			}
		})
	}
	remote := func(addr string) hub.RemoteStatus {
		t.Helper()
		for _, r := range a.Remotes() {
			if r.Addr == addr {
				return r
			}
		}
		t.Fatalf("no remote %s in %+v", addr, a.Remotes())
		return hub.RemoteStatus{}
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	fromB := func(seq int) {
		t.Helper()
		if err := hub.WriteFrame(b, transporttest.Frame(0xb2, 60, seq)); err != nil {
			t.Fatal(err)
		}
		if _, err := readWithin(t, a, "a", buf); err != nil {
			t.Fatal(err)
		}
	}
	quietLine := "remote VTEP " + pb + ": nothing heard for 30s"

	if err := hub.WriteFrame(a, broadcast(0xa1, 1)); err != nil {
		t.Fatal(err)
	}
	if r, s := remote(pb), remote(silent.String()); r.Sent != 1 || s.Sent != 1 {
		t.Errorf("after one flood: sent %d and %d datagrams, want 1 to each remote", r.Sent, s.Sent)
	}
	fromB(1)
	if r := remote(pb); r.Received != 1 || !r.LastHeard.Equal(vc.Now()) || r.Quiet {
		t.Errorf("after one datagram from it: %+v, want 1 received, last heard now (%v), not quiet", r, vc.Now())
	}
	advance(29 * time.Second)
	fromB(2) // heard at 29s: quiet from 59s, not 30s
	advance(29 * time.Second)
	if strings.Contains(logs.String(), "nothing heard") {
		t.Fatalf("remote heard 29s ago logged as quiet:\n%s", logs.String())
	}
	advance(time.Second)
	if n := strings.Count(logs.String(), quietLine); n != 1 || !remote(pb).Quiet {
		t.Fatalf("30s after the last datagram: %d lines saying %q, remote %+v; want 1 and quiet:\n%s", n, quietLine, remote(pb), logs.String())
	}
	advance(10 * time.Minute)
	log := logs.String()
	if n := strings.Count(log, quietLine); n != 1 {
		t.Errorf("10 minutes on: %d lines saying %q, want it logged once:\n%s", n, quietLine, log)
	}
	if strings.Contains(log, "127.0.0.3") {
		t.Errorf("a remote never heard from was logged:\n%s", log)
	}
	fromB(3)
	if !strings.Contains(logs.String(), "remote VTEP "+pb+": heard again, after 10m30s") {
		t.Errorf("heard from again: want it logged:\n%s", logs.String())
	}
	if r := remote(pb); r.Received != 3 || r.Quiet {
		t.Errorf("heard from again: %+v, want 3 received and not quiet", r)
	}
	advance(31 * time.Second)
	if n := strings.Count(logs.String(), quietLine); n != 2 {
		t.Errorf("quiet again: %d lines saying %q, want a second one:\n%s", n, quietLine, logs.String())
	}
	a.Close()
	if n := vc.Pending(); n != 0 {
		t.Errorf("%d timers pending after Close, want the check stopped", n)
	}
}

// TestVXLANSilenceOption: silence= sets how long a heard remote may be
// quiet before it is logged (the check is first due then), off turns the
// check off, and anything else is refused.
func TestVXLANSilenceOption(t *testing.T) {
	for _, tc := range []struct {
		opt  string
		want time.Duration // when the check is first due; 0: none
	}{
		{"", transport.DefaultVXLANSilence},
		{",silence=90s", 90 * time.Second},
		{",silence=off", 0},
	} {
		vc := hub.NewVirtualClock(hub.DefaultEpoch)
		s, err := transport.ParseSpec("ov=vxlan:" + freeUDPAddr(t) + ",remote=127.0.0.3,vni=42" + tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(transport.Options{Clock: vc})
		if err != nil {
			t.Fatal(err)
		}
		next, ok := (&hub.Driver{Clock: vc}).Next()
		r.Close()
		switch {
		case tc.want == 0 && ok:
			t.Errorf("%q: a check due at %v, want none", tc.opt, next.Sub(hub.DefaultEpoch))
		case tc.want != 0 && (!ok || next.Sub(hub.DefaultEpoch) != tc.want):
			t.Errorf("%q: check due at %v (%v), want after %v", tc.opt, next.Sub(hub.DefaultEpoch), ok, tc.want)
		}
	}
	for _, bad := range []string{"0s", "-1s", "30", "never"} {
		_, err := transport.ParseSpec("ov=vxlan:127.0.0.1:4789,remote=127.0.0.3,vni=42,silence=" + bad)
		if err == nil || !strings.Contains(err.Error(), "positive duration such as 30s") {
			t.Errorf("silence=%s: %v, want it refused", bad, err)
		}
	}
}

// TestVXLANRemotesSharingAnIP: hubs on one host are remotes with one IP
// and different UDP ports. A MAC is learned on the remote whose address a
// datagram came from, so unicast to it goes there and nowhere else; each
// remote is counted and named apart (IP:port). A datagram from that IP on
// a port no remote has (as a kernel VTEP sends) is read but teaches
// nothing, so unicast to its MAC is flooded and reaches it. The port used
// to learn every such MAC on the first remote with the IP, where the
// unicast was lost. Such a datagram from a MAC learned before on one of
// the remotes makes the port forget it (a move), so that unicast to it is
// flooded too; it used to stay on the old remote until it aged.
func TestVXLANRemotesSharingAnIP(t *testing.T) {
	abc := freeUDPAddrs(t, 3)
	pa, pb, pc := abc[0], abc[1], abc[2]
	open := func(local string, remotes ...string) *transport.VXLANConn {
		cfg := transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42}
		for _, r := range remotes {
			cfg.Remotes = append(cfg.Remotes, netip.MustParseAddrPort(r))
		}
		c, err := transport.OpenVXLAN(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b, c := open(pa, pb, pc), open(pb, pa), open(pc, pa)
	buf := make([]byte, transport.DefaultMaxFrame)
	read := func(v *transport.VXLANConn, who string, want []byte) {
		t.Helper()
		n, err := readWithin(t, v, who, buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("%s read %x, %v; want %x", who, buf[:n], err, want)
		}
	}
	write := func(v *transport.VXLANConn, f []byte) {
		t.Helper()
		if err := hub.WriteFrame(v, f); err != nil {
			t.Fatal(err)
		}
	}

	fromC := broadcast(0xc3, 1) // c's VM, 02:00:00:00:00:c3
	write(c, fromC)
	read(a, "a", fromC)
	toC := transporttest.Frame(0xc3^0x13, 60, 2) // to 02:00:00:00:00:c3
	write(a, toC)
	flood := broadcast(0xa1, 3)
	write(a, flood)
	read(c, "c", toC)
	read(c, "c", flood)
	read(b, "b (the unicast to c's VM is not b's)", flood)

	want := []hub.RemoteStatus{{Addr: pb, Sent: 1}, {Addr: pc, Sent: 2, Received: 1}}
	got := a.Remotes()
	for i := range got {
		got[i].LastHeard = time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got a.Remotes() = %+v, want %+v", got, want)
	}

	// A sender at the remotes' IP on another port.
	kernel, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kernel.Close() })
	fromK := broadcast(0xe5, 4)
	if _, err := kernel.WriteToUDP(append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, fromK...), a.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	read(a, "a", fromK)
	toK := transporttest.Frame(0xe5^0x13, 60, 5)
	write(a, toK)
	read(b, "b (unicast to a MAC of no known remote is flooded)", toK)
	read(c, "c (unicast to a MAC of no known remote is flooded)", toK)

	// c's VM, learned on c, now sends from the unknown port.
	moved := broadcast(0xc3, 6)
	if _, err := kernel.WriteToUDP(append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, moved...), a.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	read(a, "a", moved)
	toMoved := transporttest.Frame(0xc3^0x13, 60, 7)
	write(a, toMoved)
	after := broadcast(0xa1, 8) // b reads it first if the unicast went to c alone
	write(a, after)
	read(b, "b (unicast to a MAC that left its remote for an unknown one is flooded)", toMoved)
	read(b, "b", after)
	read(c, "c", toMoved)
	read(c, "c", after)
	if got := a.Learning().Moves; got != 1 {
		t.Errorf("got %d moves, want 1: c's VM's MAC, from c to a port no remote names", got)
	}
}

// TestVXLANRemoteNamesAreStable: a remote is named by its IP when it is at
// the port's own UDP port (as a remote= without a port is), by IP:port
// otherwise, whatever the other remotes are: its series in /metrics, its
// line in ctl ports and its log lines keep their name when a remote is
// added or removed. A remote used to be named by IP:port only while
// another remote shared its IP, so adding one renamed it.
func TestVXLANRemoteNamesAreStable(t *testing.T) {
	local := netip.MustParseAddrPort(freeUDPAddr(t))
	p := local.Port()
	at := func(ip string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), port) }
	names := func(remotes ...netip.AddrPort) []string {
		t.Helper()
		v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: local, VNI: 42, Remotes: remotes, Silence: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		var out []string
		for _, r := range v.Remotes() {
			out = append(out, r.Addr)
		}
		return out
	}
	for _, tc := range []struct {
		remotes []netip.AddrPort
		want    []string
	}{
		{[]netip.AddrPort{at("127.0.0.2", p)}, []string{"127.0.0.2"}},
		{[]netip.AddrPort{at("127.0.0.2", p), at("127.0.0.2", p+1)}, []string{"127.0.0.2", fmt.Sprintf("127.0.0.2:%d", p+1)}},
		{[]netip.AddrPort{at("127.0.0.3", p+1)}, []string{fmt.Sprintf("127.0.0.3:%d", p+1)}},
		{[]netip.AddrPort{at("127.0.0.3", p+1), at("127.0.0.2", p)}, []string{fmt.Sprintf("127.0.0.3:%d", p+1), "127.0.0.2"}},
	} {
		if got := names(tc.remotes...); !slices.Equal(got, tc.want) {
			t.Errorf("local %v, remotes %v: got names %q, want %q", local, tc.remotes, got, tc.want)
		}
	}
}

// TestVXLANReadAllocatesNothing: reading a datagram from a remote, its
// source MAC learned on the way, allocates nothing but the frame's pooled
// buffer, which is handed back.
func TestVXLANReadAllocatesNothing(t *testing.T) {
	a, b := vxlanPair(t)
	f := broadcast(0xb2, 1)
	const runs = 50 // and one more: all in a's socket buffer until read
	for range runs + 1 {
		if err := hub.WriteFrame(b, f); err != nil {
			t.Fatal(err)
		}
	}
	frames := make([]*hub.Frame, 1)
	if n := testing.AllocsPerRun(runs, func() {
		if _, err := a.ReadFrames(frames, transport.DefaultMaxFrame); err != nil {
			t.Fatal(err)
		}
		frames[0].Release()
	}); n != 0 {
		t.Errorf("got %v allocations per datagram read, want 0", n)
	}
}

// TestVXLANRefusalNamesTheSender: a refused datagram's error, which the
// hub logs (rate-limited) with the drop, says who sent it; a stranger's
// says too that only the remotes are read. It used to say only
// "discarded 68-byte frame: foreign-source", leaving a user whose kernel
// VTEP sends from an address the port does not name nothing to go on.
func TestVXLANRefusalNamesTheSender(t *testing.T) {
	a, _ := vxlanPair(t)
	to := a.LocalAddr().(*net.UDPAddr)
	buf := make([]byte, transport.DefaultMaxFrame)
	for _, tc := range []struct {
		name string
		ip   net.IP
		d    []byte
		want hub.DropReason
		says []string
	}{
		{"stranger", net.IPv4(127, 0, 0, 2), append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, transporttest.Frame(0xb2, 60, 1)...),
			hub.DropForeign, []string{"no remote of this port", "reads only its remote= VTEPs' datagrams", "foreign-source"}},
		{"other-vni", net.IPv4(127, 0, 0, 1), append([]byte{0x08, 0, 0, 0, 0, 0, 43, 0}, transporttest.Frame(0xb2, 60, 1)...),
			hub.DropVNI, []string{"other-vni"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: tc.ip})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.WriteToUDP(tc.d, to); err != nil {
				t.Fatal(err)
			}
			_, err = hub.ReadFrame(a, buf)
			var fe *hub.FrameError
			if !errors.As(err, &fe) || fe.Reason != tc.want {
				t.Fatalf("got %v, want a %s drop", err, tc.want)
			}
			for _, s := range append([]string{"datagram from " + c.LocalAddr().String()}, tc.says...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got error %q, want it to say %q", err, s)
				}
			}
		})
	}
}

// TestVXLANRefusesItselfAsRemote: a remote that is the port itself is
// refused at open, saying so. Bound to every address (0.0.0.0), that is
// any address of this host, loopback's included, at the port's UDP port:
// the port used to open and then read back what it sent there, delivering
// its VMs' floods to them again and learning their MACs on the overlay.
// Another port, or, bound to one address, another address, is another
// VTEP (a second hub on this host).
func TestVXLANRefusesItselfAsRemote(t *testing.T) {
	p := netip.MustParseAddrPort(freeUDPAddr(t)).Port()
	at := func(ip string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), port) }
	for _, tc := range []struct {
		name   string
		local  netip.AddrPort
		remote netip.AddrPort
		says   string // "": accepted
	}{
		{"its-own-address", at("127.0.0.1", p), at("127.0.0.1", p), "is this port's own address"},
		{"wildcard-loopback", at("0.0.0.0", p), at("127.0.0.1", p), "is this host's own address at the port's UDP port"},
		{"wildcard-other-loopback", at("0.0.0.0", p), at("127.0.0.9", p), "bind the port to one address"},
		{"wildcard-other-port", at("0.0.0.0", p), at("127.0.0.1", p+1), ""},
		{"another-address-same-port", at("127.0.0.1", p), at("127.0.0.2", p), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: tc.local, VNI: 42, Remotes: []netip.AddrPort{tc.remote}})
			if err == nil {
				v.Close()
			}
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("got OpenVXLAN(local %s, remote %s) = %v, want it opened", tc.local, tc.remote, err)
			case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.remote.String())):
				t.Errorf("got OpenVXLAN(local %s, remote %s) = %v, want it refused, naming the remote and saying %q", tc.local, tc.remote, err, tc.says)
			}
		})
	}
}

// TestVXLANMACMoves: a MAC the port sent a frame from (a VM behind this
// hub) that then comes from a remote, as when a remote sends with a local
// VM's address and so draws its frames, has moved; so has one that comes
// from another remote than before. Each move is counted (Learning, which
// ctl ports and /metrics show), and the first move of each MAC is logged
// at info, naming the MAC and both places, at most one line per 10 s.
// Such a move used to be silent everywhere. Time is a virtual clock's.
func TestVXLANMACMoves(t *testing.T) {
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	var logs syncbuf.Buffer
	abc := freeUDPAddrs(t, 3)
	pa, pb, pc := abc[0], abc[1], abc[2]
	open := func(local string, log *slog.Logger, remotes ...string) *transport.VXLANConn {
		cfg := transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42, Clock: vc, Silence: -1, Logger: log}
		for _, r := range remotes {
			cfg.Remotes = append(cfg.Remotes, netip.MustParseAddrPort(r))
		}
		c, err := transport.OpenVXLAN(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a := open(pa, slog.New(slog.NewTextHandler(&logs, nil)), pb, pc)
	b, c := open(pb, nil, pa), open(pc, nil, pa)
	buf := make([]byte, transport.DefaultMaxFrame)
	// send has v send a frame from MAC 02:00:00:00:00:src, which a reads.
	send := func(v *transport.VXLANConn, src byte) {
		t.Helper()
		if err := hub.WriteFrame(v, broadcast(src, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := hub.ReadFrame(a, buf); err != nil {
			t.Fatal(err)
		}
	}
	moved := func(mac string) int { return strings.Count(logs.String(), "msg=\"MAC "+mac+" moved") }

	if err := hub.WriteFrame(a, broadcast(0xa1, 1)); err != nil { // a's VM, 02:00:00:00:00:a1
		t.Fatal(err)
	}
	send(b, 0xa1) // b sends with it
	if got := a.Learning().Moves; got != 1 {
		t.Errorf("a local VM's MAC from remote b: got %d moves, want 1", got)
	}
	if want := "MAC 02:00:00:00:00:a1 moved from this hub's side to remote VTEP " + pb; !strings.Contains(logs.String(), want) {
		t.Errorf("logged\n%s\nwant a line saying %q", logs.String(), want)
	}
	vc.Advance(10 * time.Second)
	send(c, 0xa1) // and then c: counted, not logged again
	send(b, 0xb2)
	send(c, 0xb2) // another MAC moves, a line 10 s after the last
	vc.Advance(time.Second)
	send(b, 0xc3)
	send(c, 0xc3) // and another, too soon for a line
	if got := a.Learning().Moves; got != 4 {
		t.Errorf("got %d moves, want 4", got)
	}
	if n := moved("02:00:00:00:00:a1"); n != 1 {
		t.Errorf("MAC 02:00:00:00:00:a1 moved twice: %d lines, want it logged once:\n%s", n, logs.String())
	}
	if want := "MAC 02:00:00:00:00:b2 moved from remote VTEP " + pb + " to remote VTEP " + pc; !strings.Contains(logs.String(), want) {
		t.Errorf("logged\n%s\nwant a line saying %q", logs.String(), want)
	}
	if n := moved("02:00:00:00:00:c3"); n != 0 {
		t.Errorf("a move 1 s after the last line was logged:\n%s", logs.String())
	}
	for _, s := range []string{"level=INFO", "ctl ports"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("logged\n%s\nwant it to say %q", logs.String(), s)
		}
	}
}

// TestVXLANWriteAllocatesNothing: sending a frame, to a learned VTEP or
// flooded, allocates nothing, the learning of its source MAC included.
func TestVXLANWriteAllocatesNothing(t *testing.T) {
	a, b := vxlanPair(t)
	buf := make([]byte, transport.DefaultMaxFrame)
	if err := hub.WriteFrame(b, broadcast(0xb2, 1)); err != nil { // a learns 02:00:00:00:00:b2 on b
		t.Fatal(err)
	}
	if _, err := hub.ReadFrame(a, buf); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unicast", transporttest.Frame(0xb2^0x13, 60, 2)},
		{"flood", broadcast(0xa1, 3)},
	} {
		frames := []*hub.Frame{hub.FrameOf(tc.frame)}
		const runs = 50 // and one more: all in b's socket buffer until read
		if n := testing.AllocsPerRun(runs, func() {
			if _, err := a.WriteFrames(frames); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: got %v allocations per frame, want 0", tc.name, n)
		}
		for range runs + 1 {
			if n, err := hub.ReadFrame(b, buf); err != nil || !bytes.Equal(buf[:n], tc.frame) {
				t.Fatalf("%s: b read %x, %v; want the frame", tc.name, buf[:n], err)
			}
		}
	}
}

// TestVXLANOpenRefusesNoVTEP: OpenVXLAN, given a config rather than a
// spec, refuses what ParseSpec refuses: a local address that is a group's
// or the broadcast address, a remote that is a group, 0.0.0.0 or the
// broadcast address, with a port or without, a remote named twice (mapped
// or not), remotes beside a group. It refuses before binding, so no socket
// opens.
func TestVXLANOpenRefusesNoVTEP(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name   string
		local  string
		remote string
		says   string
	}{
		{"multicast-local", "239.1.1.1:4796", "10.99.11.2:4796", "a multicast address is no local address"},
		{"broadcast-local", "255.255.255.255:4796", "10.99.11.2:4796", "the broadcast address is no local address"},
		{"ipv6-local", "[::1]:4796", "10.99.11.2:4796", "want an IPv4 address"},
		{"multicast-remote", "127.0.0.1:0", "239.1.1.1:4789", "a multicast address is no VTEP"},
		{"mapped-multicast-remote", "127.0.0.1:0", "[::ffff:239.1.1.1]:4789", "a multicast address is no VTEP"},
		{"unspecified-remote", "127.0.0.1:0", "0.0.0.0:4795", "the unspecified address is no VTEP"},
		{"broadcast-remote", "127.0.0.1:0", "255.255.255.255:4789", "the broadcast address is no VTEP"},
		{"remote-without-port", "127.0.0.1:0", "10.99.11.2:0", "want an IPv4 address and a port"},
		{"remote-twice", "127.0.0.1:0", "10.99.11.2:4789 [::ffff:10.99.11.2]:4789", "twice"},
		{"remote-and-group", "127.0.0.1:0", "10.99.11.2:4789 group", "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := transport.VXLANConfig{Local: ap(tc.local), VNI: 42}
			for r := range strings.FieldsSeq(tc.remote) {
				if r == "group" {
					cfg.Group = netip.MustParseAddr("239.1.1.1")
					continue
				}
				cfg.Remotes = append(cfg.Remotes, ap(r))
			}
			c, err := transport.OpenVXLAN(cfg)
			if err == nil {
				c.Close()
				t.Fatalf("OpenVXLAN(local %s, remote %s): no error, want it refused", tc.local, tc.remote)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("OpenVXLAN(local %s, remote %s) = %q, want it to say %q", tc.local, tc.remote, err, tc.says)
			}
		})
	}
}

// readWithin reads p's next frame into buf, as hub.ReadFrame does, but
// closes p and fails the test if none comes within HangGuard (a guard
// against a hang, not a measure).
func readWithin(t *testing.T, p hub.PortIO, who string, buf []byte) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := hub.ReadFrame(p, buf)
		got <- result{n, err}
	}()
	select {
	case r := <-got:
		return r.n, r.err
	case <-time.After(transporttest.HangGuard):
		p.Close()
		<-got
		t.Fatalf("%s read nothing within %v", who, transporttest.HangGuard)
		return 0, nil
	}
}

// TestVXLANLearnsAtTheRemotesPortNotTheSourcePort: a kernel VTEP (Linux's
// vxlan device, Open vSwitch) sends from a source port it picks per flow,
// and listens only at its VXLAN port. A MAC heard from such a remote is
// learned at the remote as configured, so unicast to it reaches the
// remote's VXLAN port, not the per-flow port, where nothing listens.
func TestVXLANLearnsAtTheRemotesPortNotTheSourcePort(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	vtep, flow := listen(), listen() // the remote's VXLAN port, and a per-flow source port
	remote := vtep.LocalAddr().(*net.UDPAddr).AddrPort()
	v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42,
		Remotes: []netip.AddrPort{remote}, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	hdr := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	from := broadcast(0xa1, 1) // from 02:00:00:00:00:a1
	if _, err := flow.WriteToUDP(append(hdr, from...), v.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	if n, err := readWithin(t, v, "the port", buf); err != nil || !bytes.Equal(buf[:n], from) {
		t.Fatalf("read %d bytes, %v; want the frame from the per-flow port", n, err)
	}
	to := transporttest.Frame(0xa1^0x13, 60, 2) // to 02:00:00:00:00:a1
	if err := hub.WriteFrame(v, to); err != nil {
		t.Fatal(err)
	}
	vtep.SetReadDeadline(time.Now().Add(transporttest.HangGuard)) // a guard, not a measure
	n, err := vtep.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], append(hdr, to...)) {
		t.Fatalf("the remote's VXLAN port read %d bytes, %v; want the unicast to the MAC learned from it", n, err)
	}
	if got := v.Remotes(); len(got) != 1 || got[0].Sent != 1 {
		t.Errorf("got Remotes() = %+v, want the unicast counted as sent to the remote", got)
	}
}

// TestVXLANWriteRefusesRunts: a frame shorter than an Ethernet header
// (14 bytes) is refused, one frame's loss, not sent onto the overlay as
// a runt nor read past its end for its addresses.
func TestVXLANWriteRefusesRunts(t *testing.T) {
	a, _ := vxlanPair(t)
	for _, size := range []int{transport.MinFrame - 1, 5, 1} {
		f := transporttest.Frame(0xa1, 60, size)[:size]
		var fe *hub.FrameError
		if n, err := a.WriteFrames(hubFrames(f)); n != 0 || !errors.As(err, &fe) {
			t.Errorf("got WriteFrames(a %d-byte frame) = %d, %v; want 0 and a *hub.FrameError", size, n, err)
		}
	}
	if got := a.Remotes(); len(got) != 1 || got[0].Sent != 0 {
		t.Errorf("got Remotes() = %+v, want nothing sent", got)
	}
}
