package vnode_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"l2hub/conformance/vnode"
	"l2hub/transport/netstack"
)

// TestNetOwnAddress: a conformance node's sockets on a virtual host bind
// its one address or none; another address is refused, naming both, as an
// OS refuses to bind an address it does not have.
func TestNetOwnAddress(t *testing.T) {
	own := netip.MustParseAddr("10.42.0.10")
	h, err := netstack.New(netstack.Config{MAC: vnode.MAC(own), Addr: netip.PrefixFrom(own, 24)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	n := vnode.Net{Host: h}
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
