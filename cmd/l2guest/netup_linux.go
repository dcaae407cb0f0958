package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// reuseAddr sets SO_REUSEADDR on a socket before it binds (a net.Dialer's
// Control).
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// setupNet brings up lo and the NIC the way the checks expect: the address
// from l2.ip, the MAC from l2.mac when given, and a default route out of the
// NIC with no gateway, so 255.255.255.255 and multicast leave through it. It
// waits for the driver to create the NIC and returns the NIC's MAC.
func setupNet(ctx context.Context, c Config) (net.HardwareAddr, error) {
	if !c.IPv6 {
		// Router solicitations and MLD reports would only clutter captures.
		for _, p := range []string{"all", "default"} {
			err := os.WriteFile("/proc/sys/net/ipv6/conf/"+p+"/disable_ipv6", []byte("1"), 0)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("disable ipv6: %w", err)
			}
		}
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("lo up: %w", err)
	}
	link, err := waitLink(ctx, c.Dev)
	if err != nil {
		return nil, err
	}
	if c.MAC != nil {
		if err := netlink.LinkSetHardwareAddr(link, c.MAC); err != nil {
			return nil, fmt.Errorf("%s: set mac %s: %w", c.Dev, c.MAC, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("%s up: %w", c.Dev, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   c.IP.Addr().AsSlice(),
		Mask: net.CIDRMask(c.IP.Bits(), 32),
	}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return nil, fmt.Errorf("%s: add %s: %w", c.Dev, c.IP, err)
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Scope:     netlink.SCOPE_LINK,
		Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	}
	if err := netlink.RouteAdd(route); err != nil {
		return nil, fmt.Errorf("%s: default route: %w", c.Dev, err)
	}
	link, err = netlink.LinkByName(c.Dev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Dev, err)
	}
	return link.Attrs().HardwareAddr, nil
}

// waitLink polls for the NIC: the driver creates it asynchronously after
// insmod, typically within a few milliseconds.
func waitLink(ctx context.Context, name string) (netlink.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		link, err := netlink.LinkByName(name)
		if err == nil {
			return link, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w (%v)", name, errNoLink, err)
		case <-tick.C:
		}
	}
}
