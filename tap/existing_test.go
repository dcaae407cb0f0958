//go:build linux

package tap_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"l2hub/tap"
	"l2hub/tap/taptest"
)

// TestTAPExistingAddress: a device that already has the address asked for
// opens and keeps it after Close (it was there before); an address OpenTAP
// added that someone else removed meanwhile makes Close no error.
func TestTAPExistingAddress(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	addNetns(t, name)
	addTuntap(t, name, name, netlink.TUNTAP_MODE_TAP)
	defer taptest.RemoveByName(name)
	h := nlHandle(t, name)
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	had := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 77, 0, 1), Mask: net.CIDRMask(24, 32)}}
	if err := h.AddrAdd(link, had); err != nil {
		t.Fatal(err)
	}
	hasAddr := func(a *netlink.Addr) bool {
		addrs, err := h.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range addrs {
			if x.IPNet.String() == a.IPNet.String() {
				return true
			}
		}
		return false
	}

	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, Addr: netip.MustParsePrefix("10.77.0.1/24")})
	if err != nil {
		t.Fatalf("got OpenTAP with the address the device has = %v, want it opened", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("got Close() = %v", err)
	}
	if !hasAddr(had) {
		t.Errorf("after Close the device lost %s, which it had before OpenTAP", had.IPNet)
	}

	d, err = tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, Addr: netip.MustParsePrefix("10.78.0.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	added := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 78, 0, 1), Mask: net.CIDRMask(24, 32)}}
	if err := h.AddrDel(link, added); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("got Close() = %v after another removed the address OpenTAP added, want nil", err)
	}
}

// TestTAPOwnerAskedMTURefused: an MTU asked for (not the default) that the
// device's owner may not set without CAP_NET_ADMIN is an error, not a
// warning.
func TestTAPOwnerAskedMTURefused(t *testing.T) {
	name := ownTAP(t)
	var openErr error
	if err := withoutNetAdmin(func() error {
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, MTU: 1400})
		if openErr = err; err == nil {
			d.Close()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if openErr == nil || !strings.Contains(openErr.Error(), "set MTU 1400") {
		t.Errorf("got OpenTAP(mtu 1400) without CAP_NET_ADMIN = %v, want it refused: set MTU 1400", openErr)
	}
}
