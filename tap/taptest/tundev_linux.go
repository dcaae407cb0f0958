//go:build linux

package taptest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"l2hub/tap"
)

// NamePrefix starts every interface and namespace name UniqueName makes.
const NamePrefix = "l2t"

// NeedTAP skips the test, with a plain message, unless it can create TAP
// devices and network namespaces (root, and /dev/net/tun).
func NeedTAP(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating TAP devices and network namespaces needs root")
	}
	if _, err := os.Stat(tap.TUNPath); err != nil {
		t.Skipf("skipping: %s is missing (modprobe tun)", tap.TUNPath)
	}
}

// UniqueName returns a fresh l2t<hex> name (at most 15 bytes, an interface
// name's limit) and registers a cleanup that fails the test if an interface
// or namespace of that name is still there, and deletes it, so that a
// failed run leaves nothing behind.
func UniqueName(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s%06x", NamePrefix, rand.Uint32()&0xffffff)
	t.Cleanup(func() {
		if left := RemoveByName(name); len(left) > 0 {
			t.Errorf("left behind (now deleted): %s", strings.Join(left, ", "))
		}
	})
	return name
}

// RemoveByName deletes the interface and the namespace called name, in the
// caller's namespace and in namespace name, and says what it found.
func RemoveByName(name string) []string {
	var found []string
	delLink := func(h *netlink.Handle, where string) {
		if l, err := h.LinkByName(name); err == nil {
			found = append(found, "interface "+name+where)
			h.LinkDel(l)
		}
	}
	if h, err := netlink.NewHandle(unix.NETLINK_ROUTE); err == nil {
		delLink(h, "")
		h.Close()
	}
	path := filepath.Join(tap.NetnsDir, name)
	if _, err := os.Lstat(path); err == nil {
		found = append(found, "namespace "+name)
		if ns, err := netns.GetFromPath(path); err == nil {
			if h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE); err == nil {
				delLink(h, " in namespace "+name)
				h.Close()
			}
			ns.Close()
		}
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
	}
	return found
}
