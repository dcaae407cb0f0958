//go:build linux

package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// TestMcastHearsOnlyItsInterface: two labs on one host use the same group
// and port, one on lo (the hub's) and one on a veth. Linux hands a socket
// bound to G:P the group's datagrams from every interface where the host
// joined G (IP_MULTICAST_ALL); the hub's member must hear only the segment
// it joined on. A QEMU-like witness on lo, which keeps the default, shows
// the other lab's datagrams did arrive, before a marker from lo is sent:
// the hub must read the marker with nothing of the other lab before it.
// It runs in a network namespace of its own.
func TestMcastHearsOnlyItsInterface(t *testing.T) {
	transport.InOwnNetns(t, " with a veth pair", mcastTwoLabs)
}

// mcastTwoLabs runs in a network namespace of its own (InOwnNetns): it
// adds a veth pair, v0 at 10.9.9.1.
func mcastTwoLabs(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "v0"}, PeerName: "v1"}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth: %w", err)
	}
	v0, err := h.LinkByName("v0")
	if err != nil {
		return err
	}
	v1, err := h.LinkByName("v1")
	if err != nil {
		return err
	}
	addr, _ := netlink.ParseAddr("10.9.9.1/24")
	if err := h.AddrAdd(v0, addr); err != nil {
		return err
	}
	for _, l := range []netlink.Link{lo, v1, v0} {
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
	}
	_, mc, _ := net.ParseCIDR("224.0.0.0/4")
	if err := h.RouteAdd(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: mc}); err != nil {
		return err
	}

	const group, port = "230.0.0.9", 37099
	gp := fmt.Sprintf("%s:%d", group, port)
	hubEnd, err := transport.JoinMcast(gp, "127.0.0.1", 0, 0)
	if err != nil {
		return err
	}
	defer hubEnd.Close()
	witness, err := groupSocket(gp, lo)
	if err != nil {
		return fmt.Errorf("witness on lo: %w", err)
	}
	defer witness.Close()
	other, err := groupSocket(gp, v0)
	if err != nil {
		return fmt.Errorf("the other lab's member on v0: %w", err)
	}
	defer other.Close()

	dst := &net.UDPAddr{IP: net.ParseIP(group), Port: port}
	const leaks = 3
	for i := range leaks {
		if _, err := other.WriteTo(transporttest.Frame(0xee, 60, i), nil, dst); err != nil {
			return fmt.Errorf("the other lab sends: %w", err)
		}
	}
	buf := make([]byte, 2048)
	for i := range leaks {
		// A bound on a wait, not a timing claim: without it a kernel that
		// never delivers would hang the test.
		witness.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, _, err := witness.ReadFrom(buf); err != nil {
			return fmt.Errorf("the witness on lo got %d of the other lab's %d datagrams (%w): this kernel does not leak across interfaces, so the test shows nothing", i, leaks, err)
		}
	}
	marker := transporttest.Frame(0x0a, 60, 99)
	lab, err := groupSocket(gp, lo)
	if err != nil {
		return err
	}
	defer lab.Close()
	if _, err := lab.WriteTo(marker, nil, dst); err != nil {
		return fmt.Errorf("a member on lo sends: %w", err)
	}
	frames := make([]*hub.Frame, 8)
	for {
		n, err := hubEnd.ReadFrames(frames, transport.DefaultMaxFrame)
		if err != nil {
			return fmt.Errorf("hub read: %w", err)
		}
		for _, f := range frames[:n] {
			src := f.Bytes()[11]
			if src == 0xee {
				return fmt.Errorf("got a frame from the other lab's member on v0 at the hub joined on lo, want only lo's")
			}
			if string(f.Bytes()) == string(marker) {
				hub.ReleaseAll(frames[:n])
				return nil
			}
		}
		hub.ReleaseAll(frames[:n])
	}
}

// groupSocket is a member as QEMU makes one: bound to G:P with
// SO_REUSEADDR, joined on ifi, sending there with loop on.
func groupSocket(gp string, ifi netlink.Link) (*ipv4.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp4", gp)
	if err != nil {
		return nil, err
	}
	p := ipv4.NewPacketConn(c)
	nif, err := net.InterfaceByIndex(ifi.Attrs().Index)
	if err == nil {
		g, _ := net.ResolveUDPAddr("udp4", gp)
		err = errors.Join(p.JoinGroup(nif, g), p.SetMulticastInterface(nif), p.SetMulticastLoopback(true))
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return p, nil
}
