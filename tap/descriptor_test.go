//go:build linux

package tap_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"l2hub/tap"
	"l2hub/tap/taptest"
	"l2hub/transport/transporttest"
)

// tunFDs counts this process's descriptors open on /dev/net/tun.
func tunFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == tap.TUNPath {
			n++
		}
	}
	return n
}

// attachHolder attaches a descriptor of the test's to the persistent TAP
// device name in namespace ns, as QEMU would, until the test ends.
func attachHolder(t *testing.T, ns, name string) {
	t.Helper()
	fd := -1
	t.Cleanup(func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	})
	inNetns(t, ns, func() error { // /dev/net/tun attaches in the opener's namespace
		var err error
		if fd, err = unix.Open(tap.TUNPath, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("attach to %s: %w", name, err)
		}
		return nil
	})
}

// The TAP descriptor is the hub's alone: a child process does not inherit
// it (a VM lab starts would keep the device, and its namespace, alive),
// and an attach that fails leaves no descriptor open.
func TestTAPDescriptor(t *testing.T) {
	taptest.NeedTAP(t)
	t.Run("not-inherited", func(t *testing.T) {
		ls, err := exec.LookPath("ls")
		if err != nil {
			t.Skip("skipping: no ls to list a child's descriptors")
		}
		name := taptest.UniqueName(t)
		d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if tunFDs(t) == 0 {
			t.Fatalf("no descriptor of the test's is open on %s with the device open", tap.TUNPath)
		}
		out, err := exec.Command(ls, "-l", "/proc/self/fd").CombinedOutput()
		if err != nil {
			t.Fatalf("ls: %v: %s", err, out)
		}
		if bytes.Contains(out, []byte(tap.TUNPath)) {
			t.Errorf("a child started with the device open holds %s:\n%s", tap.TUNPath, out)
		}
	})
	t.Run("failed-attach-leaks-nothing", func(t *testing.T) {
		name := taptest.UniqueName(t)
		addNetns(t, name)
		defer taptest.RemoveByName(name)
		addTuntap(t, name, name, netlink.TUNTAP_MODE_TAP)
		attachHolder(t, name, name)
		before := tunFDs(t)
		for range 3 {
			if d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name}); err == nil {
				d.Close()
				t.Fatalf("OpenTAP(%s) held by another descriptor = nil error, want EBUSY", name)
			} else if !strings.Contains(err.Error(), "another program") {
				t.Fatalf("OpenTAP(%s) held by another descriptor = %v, want it to say another program has it", name, err)
			}
		}
		if after := tunFDs(t); after != before {
			t.Errorf("descriptors on %s: %d before three failed attaches, %d after; want no change", tap.TUNPath, before, after)
		}
	})
}

// A persistent device's own features (a vnet header, as `ip tuntap add
// DEV mode tap vnet_hdr` gives it; packet information; several queues) are
// back after the hub lets go, with the rest of what it found. The device
// is in a namespace of its own, where the hub lets go of it too.
func TestTAPFeaturesRestored(t *testing.T) {
	taptest.NeedTAP(t)
	const features = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_MULTI_QUEUE
	for _, tc := range []struct {
		name  string
		flags netlink.TuntapFlag
	}{
		{"vnet-hdr", netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR},
		{"multi-queue", netlink.TUNTAP_MULTI_QUEUE | netlink.TUNTAP_VNET_HDR}, // and packet information
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := taptest.UniqueName(t)
			addNetns(t, name)
			defer taptest.RemoveByName(name)
			inNetns(t, name, func() error {
				return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP, Flags: tc.flags})
			})
			h := nlHandle(t, name)
			flagsOf := func() netlink.TuntapFlag {
				t.Helper()
				l, err := h.LinkByName(name)
				if err != nil {
					t.Fatal(err)
				}
				tt, ok := l.(*netlink.Tuntap)
				if !ok {
					t.Fatalf("%s is a %T, want a TAP device", name, l)
				}
				return tt.Flags & features
			}
			if got := flagsOf(); got != tc.flags {
				t.Fatalf("device %s made with flags %#x has %#x", name, tc.flags, got)
			}
			d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name})
			if err != nil {
				t.Fatal(err)
			}
			if got := flagsOf(); got == tc.flags {
				t.Errorf("while attached: flags %#x, as found; want the hub's own (no vnet header)", got)
			}
			if err := d.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if got := flagsOf(); got != tc.flags {
				t.Errorf("device %s has flags %#x after the hub let go, want %#x as found", name, got, tc.flags)
			}
		})
	}
}

// A persistent device deleted under the hub has nothing to restore: Close
// creates no device of its name (an attach to restore its features would)
// and reports no failure to restore it.
func TestTAPDeletedNotRestored(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	addNetns(t, name)
	defer taptest.RemoveByName(name)
	inNetns(t, name, func() error {
		return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TAP, Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR})
	})
	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name})
	if err != nil {
		t.Fatal(err)
	}
	h := nlHandle(t, name)
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	updates, done := make(chan netlink.LinkUpdate, 64), make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeAt(ns, updates, done); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close() of a device deleted under the hub = %v, want nil", err)
	}
	// lo coming up marks the end of what Close did: the kernel reports a
	// namespace's link changes in order.
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case u := <-updates:
			switch u.Attrs().Name {
			case name:
				t.Errorf("Close() of a device deleted under the hub made a new %s (netlink message type %d)", name, u.Header.Type)
			case "lo":
				return
			}
		case <-time.After(transporttest.HangGuard):
			t.Fatalf("no news of lo coming up within %v", transporttest.HangGuard)
		}
	}
}
