package netstack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport"
	"l2hub/transport/netstack"
)

// hangGuard turns a hang into a failure; nothing here measures time.
const hangGuard = 10 * time.Second

func newHost(t *testing.T, mac string, addr string) *netstack.Host {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netstack.New(netstack.Config{MAC: hw, Addr: netip.MustParsePrefix(addr)})
	if err != nil {
		t.Fatalf("New(%s, %s): %v", mac, addr, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// cable copies frames between a host and a pipe end in both directions,
// as a hub port's reader and writer would, until either side closes.
func cable(t *testing.T, host *netstack.Host, end *transport.PipeEnd) {
	var wg sync.WaitGroup
	pump := func(from, to hub.PortIO) {
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			n, err := hub.ReadFrame(from, buf)
			var fe *hub.FrameError
			switch {
			case errors.As(err, &fe):
				continue
			case err != nil:
				return
			}
			if err := hub.WriteFrame(to, buf[:n]); err != nil && !errors.As(err, &fe) {
				return
			}
		}
	}
	wg.Go(func() { pump(host, end) })
	wg.Go(func() { pump(end, host) })
	t.Cleanup(func() { end.Close(); host.Close(); wg.Wait() })
}

// twoHosts joins two hosts with a transport.Pipe.
func twoHosts(t *testing.T) (*netstack.Host, *netstack.Host) {
	a := newHost(t, "02:00:00:00:00:0a", "10.42.0.1/24")
	b := newHost(t, "02:00:00:00:00:0b", "10.42.0.2/24")
	pa, pb := transport.Pipe()
	cable(t, a, pa)
	cable(t, b, pb)
	return a, b
}

func guardCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

func TestPing(t *testing.T) {
	a, b := twoHosts(t)
	ctx := guardCtx(t)
	for seq := range uint16(3) {
		if err := a.Ping(ctx, b.Addr(), seq); err != nil {
			t.Fatalf("a pings b (seq %d): %v", seq, err)
		}
		if err := b.Ping(ctx, a.Addr(), seq); err != nil {
			t.Fatalf("b pings a (seq %d): %v", seq, err)
		}
	}
}

func TestTCP(t *testing.T) {
	a, b := twoHosts(t)
	ln, err := b.ListenTCP(7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Enough data to need many segments, windows and ACKs.
	payload := bytes.Repeat([]byte("l2hub netstack "), 20000)
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c) // echo
		errc <- err
	}()
	c, err := a.DialTCP(guardCtx(t), netip.AddrPortFrom(b.Addr(), 7000))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	go func() {
		c.Write(payload)
		c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes back, want the %d sent", len(got), len(payload))
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestUDP(t *testing.T) {
	a, b := twoHosts(t)
	ca, err := a.ListenUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.ListenUDP(5353)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	ca.SetDeadline(time.Now().Add(hangGuard))
	cb.SetDeadline(time.Now().Add(hangGuard))

	msg := []byte("hello over gVisor")
	if _, err := ca.WriteTo(msg, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr(), 5353))); err != nil {
		t.Fatalf("a sends: %v", err)
	}
	buf := make([]byte, 1500)
	n, from, err := cb.ReadFrom(buf)
	if err != nil || string(buf[:n]) != string(msg) {
		t.Fatalf("b reads %q, %v; want %q", buf[:n], err, msg)
	}
	if _, err := cb.WriteTo([]byte("reply"), from); err != nil {
		t.Fatalf("b replies: %v", err)
	}
	if n, _, err := ca.ReadFrom(buf); err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("a reads %q, %v; want the reply", buf[:n], err)
	}
}

// A discovery-style announce: a datagram to a multicast group reaches a
// host that joined it, on an Ethernet multicast address.
func TestUDPMulticast(t *testing.T) {
	a, b := twoHosts(t)
	rx, err := b.ListenUDP(4242)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	group := netip.MustParseAddr("239.42.0.1")
	if err := rx.JoinGroup(group); err != nil {
		t.Fatal(err)
	}
	tx, err := a.ListenUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	rx.SetDeadline(time.Now().Add(hangGuard))
	msg := []byte("announce")
	if _, err := tx.WriteTo(msg, net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, 4242))); err != nil {
		t.Fatalf("send to %s: %v", group, err)
	}
	buf := make([]byte, 1500)
	n, from, err := rx.ReadFrom(buf)
	if err != nil || string(buf[:n]) != string(msg) {
		t.Fatalf("read %q, %v; want %q", buf[:n], err, msg)
	}
	if got := from.(*net.UDPAddr).AddrPort().Addr().Unmap(); got != a.Addr() {
		t.Errorf("announce from %s, want %s", got, a.Addr())
	}
}

// arpRequest asks who has 10.42.0.1, from sender MAC 02:..:77 at spa, with
// the Ethernet destination dst.
func arpRequest(dst []byte, spa [4]byte) []byte {
	f := append([]byte{}, dst...)
	f = append(f, 0x02, 0, 0, 0, 0, 0x77, 0x08, 0x06) // source, EtherType ARP
	f = append(f, 0, 1, 0x08, 0, 6, 4, 0, 1)          // Ethernet/IPv4, request
	f = append(f, 0x02, 0, 0, 0, 0, 0x77)             // sender MAC
	f = append(f, spa[:]...)                          // sender IP
	f = append(f, 0, 0, 0, 0, 0, 0, 10, 42, 0, 1)     // target MAC (unknown), IP
	return f
}

// A frame for another unicast MAC is ignored, as a NIC ignores it; frames
// the host sends are Ethernet frames from its MAC.
func TestFrames(t *testing.T) {
	h := newHost(t, "02:00:00:00:00:0a", "10.42.0.1/24")
	if err := h.WriteFrame(arpRequest([]byte{0x02, 0, 0, 0, 0, 0x55}, [4]byte{10, 42, 0, 7})); err != nil {
		t.Errorf("WriteFrame for another MAC = %v, want nil (ignored)", err)
	}
	if err := h.WriteFrame(arpRequest([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, [4]byte{10, 42, 0, 8})); err != nil {
		t.Fatalf("WriteFrame of a broadcast ARP request = %v", err)
	}
	buf := make([]byte, transport.DefaultMaxFrame)
	n, err := h.ReadFrame(buf)
	if err != nil {
		t.Fatal(err)
	}
	f := buf[:n]
	if want := []byte{0x02, 0, 0, 0, 0, 0x77, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x06}; n < 42 || !bytes.Equal(f[:14], want) {
		t.Fatalf("first frame %x, want an ARP frame from the host's MAC to the asker: %x", f, want)
	}
	if op, tpa := f[20:22], f[38:42]; !bytes.Equal(op, []byte{0, 2}) || !bytes.Equal(tpa, []byte{10, 42, 0, 8}) {
		t.Fatalf("first frame is ARP op %x to %v, want a reply to 10.42.0.8 (the request to another MAC must be ignored)", op, tpa)
	}

	var fe *hub.FrameError
	if err := h.WriteFrame(f[:10]); !errors.As(err, &fe) || fe.Reason != hub.DropRunt {
		t.Errorf("WriteFrame of a runt = %v, want DropRunt", err)
	}
	if err := h.WriteFrame(make([]byte, 1515)); !errors.As(err, &fe) || fe.Reason != hub.DropOversize {
		t.Errorf("WriteFrame of 1515 bytes = %v, want DropOversize", err)
	}
	if err := h.WriteFrame(f[:13]); !errors.As(err, &fe) || fe.Reason != hub.DropRunt {
		t.Errorf("WriteFrame of 13 bytes = %v, want DropRunt", err)
	}
	// A bare header to the host's MAC is the hub's smallest frame
	// (hub.EthHeaderLen), not a runt: taken, and ignored by the stack.
	bare := []byte{0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x77, 0x08, 0x00}
	if err := h.WriteFrame(bare); err != nil {
		t.Errorf("WriteFrame of %d bytes = %v, want nil", len(bare), err)
	}
	full := make([]byte, 1514) // MTU 1500 plus the header: the largest frame
	copy(full, []byte{0x02, 0, 0, 0, 0, 0x55})
	if err := h.WriteFrame(full); err != nil {
		t.Errorf("WriteFrame of 1514 bytes = %v, want nil (taken, and ignored: another MAC)", err)
	}
}

func TestClose(t *testing.T) {
	h := newHost(t, "02:00:00:00:00:0a", "10.42.0.1/24")
	errc := make(chan error, 1)
	go func() {
		_, err := h.ReadFrame(make([]byte, 1514))
		errc <- err
	}()
	if err := h.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("pending ReadFrame = %v after Close, want net.ErrClosed", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Close did not unblock ReadFrame")
	}
	if err := h.WriteFrame(make([]byte, 60)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame after Close = %v, want net.ErrClosed", err)
	}
	if err := h.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close() = %v, want net.ErrClosed", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	group, _ := net.ParseMAC("01:00:5e:00:00:01")
	for _, tc := range []struct {
		name string
		cfg  netstack.Config
	}{
		{"no-mac", netstack.Config{Addr: netip.MustParsePrefix("10.0.0.1/24")}},
		{"multicast-mac", netstack.Config{MAC: group, Addr: netip.MustParsePrefix("10.0.0.1/24")}},
		{"no-addr", netstack.Config{MAC: mac}},
		{"ipv6", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("fd00::1/64")}},
		{"tiny-mtu", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), MTU: 100}},
		{"zero-prefix", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/0")}},
		{"ipv6-gateway", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), Gateway: netip.MustParseAddr("fd00::1")}},
		{"mtu-under-576", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), MTU: 575}},
		{"mtu-frame-over-65535", netstack.Config{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), MTU: 65535 - 14 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := netstack.New(tc.cfg); err == nil {
				h.Close()
				t.Fatalf("New(%+v) = nil error, want one", tc.cfg)
			}
		})
	}
}

// TestNewAcceptsBounds: the MTU's bounds themselves, and an IPv4 gateway,
// make a host.
func TestNewAcceptsBounds(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	for _, cfg := range []netstack.Config{
		{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), MTU: 576},
		{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), MTU: 65535 - 14},
		{MAC: mac, Addr: netip.MustParsePrefix("10.0.0.1/24"), Gateway: netip.MustParseAddr("10.0.0.254")},
	} {
		h, err := netstack.New(cfg)
		if err != nil {
			t.Errorf("got New(MTU %d, gateway %v) = %v, want a host", cfg.MTU, cfg.Gateway, err)
			continue
		}
		h.Close()
	}
}

// TestJoinGroupRefusesNonMulticast: only an IPv4 multicast group is joined.
func TestJoinGroupRefusesNonMulticast(t *testing.T) {
	h := newHost(t, "02:00:00:00:00:0a", "10.42.0.1/24")
	c, err := h.ListenUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, g := range []string{"10.42.0.9", "255.255.255.255", "ff02::fb"} {
		if err := c.JoinGroup(netip.MustParseAddr(g)); err == nil || !strings.Contains(err.Error(), "is not an IPv4 multicast group") {
			t.Errorf("got JoinGroup(%s) = %v, want it refused as not an IPv4 multicast group", g, err)
		}
	}
}

// Two hosts on a real hub in switch mode: they find each other by ARP and
// talk TCP through it.
func TestThroughHub(t *testing.T) {
	hb, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { hb.Run(ctx) })
	a := newHost(t, "02:00:00:00:00:0a", "10.42.0.1/24")
	b := newHost(t, "02:00:00:00:00:0b", "10.42.0.2/24")
	for name, h := range map[string]*netstack.Host{"a": a, "b": b} {
		if err := hb.AddPort(name, h.Describe()); err != nil {
			t.Fatal(err)
		}
		if _, err := hb.Attach(name, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Ping(guardCtx(t), b.Addr(), 1); err != nil {
		t.Fatalf("ping through the hub: %v", err)
	}
	ln, err := b.ListenTCP(80)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := a.DialTCP(guardCtx(t), netip.AddrPortFrom(b.Addr(), 80))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	if got, err := io.ReadAll(c); err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v; want \"hi\"", got, err)
	}
}

// A host whose frames nobody reads drops what its queue cannot hold, as a
// NIC drops on a full ring, and counts it: KernelDrops, which a hub counts
// on the host's port as kernel-overflow.
func TestKernelDropsCountsAFullQueue(t *testing.T) {
	h, err := netstack.New(netstack.Config{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Addr: netip.MustParsePrefix("10.0.0.1/24"), QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := h.ListenUDP(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("255.255.255.255:9")) // no ARP first
	for i := range 10 {
		if _, err := c.WriteTo([]byte{byte(i)}, to); err != nil {
			t.Logf("datagram %d: %v", i, err) // a full queue may say so
		}
	}
	if got := h.KernelDrops(); got != 6 {
		t.Errorf("KernelDrops() = %d after 10 datagrams into a queue of 4, want 6", got)
	}
	buf := make([]byte, 1514)
	for i := range 4 {
		if n, ok, err := h.PollFrame(buf); !ok || err != nil || n == 0 {
			t.Fatalf("frame %d: %d bytes, %v, %v; want the 4 queued", i, n, ok, err)
		}
	}
	if _, ok, _ := h.PollFrame(buf); ok {
		t.Error("a fifth frame was queued")
	}
}
