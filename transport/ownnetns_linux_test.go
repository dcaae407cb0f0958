package transport

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// InOwnNetns runs f on an OS thread of its own, moved into a new network
// namespace whose loopback is up, with a netlink handle of it; the test
// skips without root (needs says what for). The thread is never unlocked:
// it ends with f's goroutine, and the namespace with it. It is exported for
// the package's external tests (package transport_test).
func InOwnNetns(t *testing.T, needs string, f func(h *netlink.Handle) error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipped: needs root to create a network namespace%s", needs)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("new network namespace: %w", err)
			}
			h, err := netlink.NewHandle()
			if err != nil {
				return err
			}
			defer h.Close()
			lo, err := h.LinkByName("lo")
			if err != nil {
				return err
			}
			if err := h.LinkSetUp(lo); err != nil {
				return err
			}
			return f(h)
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
