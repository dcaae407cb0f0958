package vnode_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/conformance/vnode"
	"l2hub/hub"
	"l2hub/transport/netstack"
)

// TestNetOwnAddress: a conformance node's sockets on a virtual host bind
// its one address or none; another address is refused, naming both, as an
// OS refuses to bind an address it does not have.
func TestNetOwnAddress(t *testing.T) {
	own := netip.MustParseAddr("10.42.0.10")
	n := vnode.Net{Host: newVirtualHost(t, own)}
	for _, a := range []netip.Addr{{}, netip.IPv4Unspecified(), own} {
		c, err := n.ListenUDP(netip.AddrPortFrom(a, 0))
		if err != nil {
			t.Errorf("got ListenUDP(%v) = %v, want a socket", a, err)
			continue
		}
		c.Close()
		ln, err := n.ListenTCP(netip.AddrPortFrom(a, 0))
		if err != nil {
			t.Errorf("got ListenTCP(%v) = %v, want a listener", a, err)
			continue
		}
		ln.Close()
	}
	other := netip.AddrPortFrom(netip.MustParseAddr("10.42.0.99"), 5000)
	const want = "address 10.42.0.99 is not the host's 10.42.0.10"
	if c, err := n.ListenUDP(other); err == nil || !strings.Contains(err.Error(), want) {
		if c != nil {
			c.Close()
		}
		t.Errorf("got ListenUDP(%v) = %v, want %q", other, err, want)
	}
	if ln, err := n.ListenTCP(other); err == nil || !strings.Contains(err.Error(), want) {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("got ListenTCP(%v) = %v, want %q", other, err, want)
	}
	if c, err := n.DialTCP(context.Background(), other, netip.AddrPortFrom(own, 7000)); err == nil || !strings.Contains(err.Error(), want) {
		if c != nil {
			c.Close()
		}
		t.Errorf("got DialTCP from %v = %v, want %q", other, err, want)
	}
}

// newVirtualHost returns a netstack host at addr/24 with the OS's MAC for
// it, closed when the test ends.
func newVirtualHost(t *testing.T, addr netip.Addr) *netstack.Host {
	t.Helper()
	h, err := netstack.New(netstack.Config{MAC: vnode.MAC(addr), Addr: netip.PrefixFrom(addr, 24)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// A dial from a fixed port to an IPv6 peer is refused with an error, as
// the virtual hosts are IPv4 only.
func TestNetDialFromRefusesIPv6(t *testing.T) {
	own := netip.MustParseAddr("10.42.0.10")
	n := vnode.Net{Host: newVirtualHost(t, own)}
	to := netip.MustParseAddrPort("[fd00::b]:34568")
	if c, err := n.DialTCP(context.Background(), netip.AddrPortFrom(own, 40010), to); err == nil || !strings.Contains(err.Error(), "only IPv4") {
		if c != nil {
			c.Close()
		}
		t.Errorf("got DialTCP(%v) = %v, want an error saying only IPv4 is supported", to, err)
	}
}

// node-a's fixed source port (40000 + mac[5]) can be bound again while a
// connection from it that node-a closed gracefully (linger restored, so no
// RST) is still closing or in TIME_WAIT, as the OS's redial needs.
func TestNetDialFromRebindsAClosingPort(t *testing.T) {
	addrA, addrB := conformance.RoleA.Addr(), conformance.RoleB.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := newVirtualHost(t, addrB)
	a := vnode.Net{Host: newVirtualHost(t, addrA)}
	startHub(t, ctx, map[string]hub.PortIO{"a": a.Host, "b": b})
	var accepted []net.Conn
	defer func() {
		for _, c := range accepted {
			c.Close()
		}
	}()
	from := netip.AddrPortFrom(addrA, 40010)
	for i, port := range []uint16{conformance.SessionPortB, conformance.SessionPortB + 1} {
		ln, err := b.ListenTCP(port)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := a.DialTCP(ctx, from, netip.AddrPortFrom(addrB, port))
		if err != nil {
			t.Fatalf("dial %d from %v: %v", i+1, from, err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, sc)
		if err := c.(conformance.Linger).SetLinger(-1); err != nil {
			t.Fatal(err)
		}
		c.Close() // graceful: node-a closes first
	}
}
