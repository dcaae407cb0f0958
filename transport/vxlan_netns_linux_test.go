//go:build linux

package transport_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"l2hub/hub"
	"l2hub/tap"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// TestVXLANRefusesAMissingNetns: a vxlan port's netns= names a namespace
// that must exist. A misspelt name used to create an empty namespace, where
// the bind to any address succeeds and the port reports itself up while
// nothing can ever reach it; now the port fails, saying so, and no
// namespace appears. (Runs without root too: the check comes before any
// privileged step.)
func TestVXLANRefusesAMissingNetns(t *testing.T) {
	name := fmt.Sprintf("l2t%06x", rand.Uint32()&0xffffff)
	path := filepath.Join(tap.NetnsDir, name)
	t.Cleanup(func() {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("namespace %s was created", name)
			exec.Command("ip", "netns", "del", name).Run()
		}
	})
	s, err := transport.ParseSpec("ov=vxlan:10.99.0.1:4789,remote=10.99.0.2,vni=42,netns=" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(transport.Options{})
	if err == nil {
		r.Close()
		t.Fatalf("open %s: no error, want the missing namespace refused", s)
	}
	if want := "network namespace " + name + " does not exist"; !strings.Contains(err.Error(), want) {
		t.Errorf("open %s: %v, want it to say %q", s, err, want)
	}
}

// TestVXLANRefusesAHostAddressAsRemote: bound to every address of a
// namespace, a vxlan port refuses a remote that is one of the namespace's
// own addresses (an interface's, here a veth's 10.77.0.1) at its
// UDP port, as a remote list shared by every host would have; another
// address there is a VTEP like any other. Needs root and ip(8), to make
// the namespace.
func TestVXLANRefusesAHostAddressAsRemote(t *testing.T) {
	name, ip := testNetns(t)
	ip("-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ip("-n", name, "addr", "add", "10.77.0.1/24", "dev", "v0")
	ip("-n", name, "link", "set", "v0", "up")
	for _, tc := range []struct{ remote, says string }{
		{"10.77.0.1", "remote 10.77.0.1:4789 is network namespace " + name + "'s own address at the port's UDP port"},
		{"10.77.0.1:4790", ""},
		{"10.77.0.2", ""},
	} {
		s, err := transport.ParseSpec("ov=vxlan:0.0.0.0:4789,remote=" + tc.remote + ",vni=42,netns=" + name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(transport.Options{})
		if err == nil {
			r.Close()
		}
		switch {
		case tc.says == "" && err != nil:
			t.Errorf("got open %s = %v, want it opened", s, err)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("got open %s = %v, want it refused, saying %q", s, err, tc.says)
		}
	}
}

// TestVXLANOwnAddressAddedLater: bound to every address of a namespace, a
// vxlan port whose remote becomes one of the namespace's own addresses
// after open (here 10.77.0.7, added to lo) knows it within its refresh
// period, on its clock: the flood it sends there comes back to it and is
// dropped as own-echo. It used to know only the addresses present at
// open, and delivered its own flood to its VMs again. Needs root and
// ip(8), to make the namespace.
func TestVXLANOwnAddressAddedLater(t *testing.T) {
	name, ip := testNetns(t)
	ip("-n", name, "link", "set", "lo", "up")
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort("0.0.0.0:4789"), Netns: name, VNI: 42,
		Remotes: []netip.AddrPort{netip.MustParseAddrPort("10.77.0.7:4789")}, Clock: vc, Silence: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ip("-n", name, "addr", "add", "10.77.0.7/32", "dev", "lo")
	// One refresh period on, once the refresh has listed the addresses
	// and set itself again (the port's only timer).
	(&hub.Driver{Clock: vc}).AdvanceTo(vc.Now().Add(5*time.Second), func() {
		for deadline := time.Now().Add(transporttest.HangGuard); vc.Pending() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the refresh did not set itself again")
			}
		}
	})
	flood := transporttest.Frame(0xa1, 60, 1)
	copy(flood, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if err := hub.WriteFrame(v, flood); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := hub.ReadFrame(v, make([]byte, transport.DefaultMaxFrame))
		got <- err
	}()
	select {
	case err = <-got:
	case <-time.After(transporttest.HangGuard):
		v.Close()
		t.Fatalf("the flood sent to 10.77.0.7, now the namespace's own, did not come back")
	}
	var fe *hub.FrameError
	if !errors.As(err, &fe) || fe.Reason != hub.DropOwnEcho {
		t.Errorf("got the flood back as %v, want an own-echo drop", err)
	}
}

// TestVXLANOnePortPerUDPPort: a vxlan port is one socket for one VNI, so
// a second port on the same local address and UDP port fails to bind,
// saying why and what to do: two ports with a group on one UDP port (as
// two hubs on one host would have), and two ports on one address with
// different VNIs. A group port used to set SO_REUSEADDR, so the second
// bound and then took every unicast datagram to that port, the first
// hearing none of it. The first port still hears its unicast afterwards.
// Needs root and ip(8), to make the namespace.
func TestVXLANOnePortPerUDPPort(t *testing.T) {
	name, ip := testNetns(t)
	ip("-n", name, "link", "set", "lo", "up")
	ip("-n", name, "addr", "add", "10.77.1.1/32", "dev", "lo")
	ap := netip.MustParseAddrPort
	open := func(cfg transport.VXLANConfig) (*transport.VXLANConn, error) {
		cfg.Netns, cfg.Silence = name, -1
		v, err := transport.OpenVXLAN(cfg)
		if err == nil {
			t.Cleanup(func() { v.Close() })
		}
		return v, err
	}
	for _, tc := range []struct {
		name          string
		first, second transport.VXLANConfig
		says          []string
	}{
		{"two-groups",
			transport.VXLANConfig{Local: ap("127.0.0.1:4789"), VNI: 42, Group: netip.MustParseAddr("239.1.1.1")},
			transport.VXLANConfig{Local: ap("127.0.0.1:4789"), VNI: 43, Group: netip.MustParseAddr("239.1.1.2")},
			[]string{"address already in use", "UDP port 4789", "a port with a group takes it on every address", "one VNI per local address and UDP port", "give each VNI its own UDP port"}},
		{"two-vnis",
			transport.VXLANConfig{Local: ap("10.77.1.1:4790"), VNI: 42, Remotes: []netip.AddrPort{ap("10.77.1.2:4790")}},
			transport.VXLANConfig{Local: ap("10.77.1.1:4790"), VNI: 43, Remotes: []netip.AddrPort{ap("10.77.1.2:4790")}},
			[]string{"address already in use", "UDP port 4790 of 10.77.1.1 is taken", "one VNI per local address and UDP port", "its own local address"}},
		{"every-address-then-one",
			transport.VXLANConfig{Local: ap("0.0.0.0:4791"), VNI: 42, Remotes: []netip.AddrPort{ap("10.77.1.2:4791")}},
			transport.VXLANConfig{Local: ap("10.77.1.1:4791"), VNI: 43, Remotes: []netip.AddrPort{ap("10.77.1.2:4791")}},
			[]string{"address already in use", "one VNI per local address and UDP port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := open(tc.first)
			if err != nil {
				t.Fatal(err)
			}
			second, err := open(tc.second)
			if err == nil {
				t.Fatalf("opened %s beside %s on one UDP port, want the second refused", second.Describe(), first.Describe())
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got %q, want it to say %q", err, s)
				}
			}
			if !tc.first.Group.IsValid() {
				return
			}
			// A VTEP's unicast to the UDP port reaches the first, which,
			// with a group, reads any sender.
			sender, err := open(transport.VXLANConfig{Local: ap("127.0.0.1:4800"), VNI: tc.first.VNI, Remotes: []netip.AddrPort{tc.first.Local}})
			if err != nil {
				t.Fatal(err)
			}
			f := transporttest.Frame(0xa1, 60, 1) // unicast to 02:..., from a unicast source
			if err := hub.WriteFrame(sender, f); err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				_, err := hub.ReadFrame(first, make([]byte, transport.DefaultMaxFrame))
				got <- err
			}()
			select {
			case err := <-got:
				if err != nil {
					t.Errorf("the first port read %v, want the unicast frame", err)
				}
			case <-time.After(transporttest.HangGuard):
				first.Close()
				t.Errorf("the first port never read the unicast sent to its UDP port")
			}
		})
	}
}

// testNetns makes a network namespace of a fresh name, removed when the
// test ends, and returns its name and a runner of ip(8) that fails the
// test on an error. It skips the test without root or ip(8).
func testNetns(t *testing.T) (name string, ip func(args ...string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: making a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: ip(8) not found (apt-get install iproute2)")
	}
	name = fmt.Sprintf("l2t%06x", rand.Uint32()&0xffffff)
	ip = func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return name, ip
}

// TestVXLANPathMTUIsOversize: the socket sets DF (IP_PMTUDISC_DO), so a
// frame that mtu= allows but the route to the remote does not (its MTU is
// smaller) fails with EMSGSIZE, and is counted oversize, which points at
// the MTU, not port-down, which would point at reachability. Here loopback's
// MTU is lowered to 1200 in a namespace of the test's own. Needs root.
func TestVXLANPathMTUIsOversize(t *testing.T) {
	transport.InOwnNetns(t, ", with a smaller MTU on its loopback", func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := h.LinkSetMTU(lo, 1200); err != nil {
			return err
		}
		v, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42, MTU: 1500,
			Remotes: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:4789")}, Silence: -1})
		if err != nil {
			return err
		}
		defer v.Close()
		f := transporttest.Frame(0xa1, 1400, 0) // within mtu=1500's 1464, not within 1200
		var fe *hub.FrameError
		if err := hub.WriteFrame(v, f); !errors.As(err, &fe) || fe.Reason != hub.DropOversize || !errors.Is(err, syscall.EMSGSIZE) {
			t.Errorf("got WriteFrame(%d bytes) over a 1200-byte path = %v, want a *hub.FrameError with DropOversize, wrapping EMSGSIZE", len(f), err)
		}
		return nil
	})
}
