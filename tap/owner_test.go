//go:build linux

package tap_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"l2hub/internal/syncbuf"
	"l2hub/transport"
)

// withoutNetAdmin runs fn on a locked OS thread without CAP_NET_ADMIN
// (capabilities are per thread); the thread ends with it. fn reports
// failure by its error, not through t (t.Fatal ends only fn's goroutine):
// an fn that ends without returning (runtime.Goexit) is an error too.
func withoutNetAdmin(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		returned := false
		defer func() {
			if !returned {
				errc <- errors.New("the function run without CAP_NET_ADMIN ended without returning")
			}
		}()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			returned = true
			errc <- fmt.Errorf("capget: %w", err)
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			returned = true
			errc <- fmt.Errorf("capset: %w", err)
			return
		}
		err := fn()
		returned = true
		errc <- err
	}()
	return <-errc
}

// withoutNetAdmin reports an fn that ends without returning rather than
// wait for it forever.
func TestWithoutNetAdminReturns(t *testing.T) {
	if err := withoutNetAdmin(func() error { runtime.Goexit(); return nil }); err == nil {
		t.Errorf("withoutNetAdmin(fn that calls runtime.Goexit) = nil, want an error")
	}
	want := errors.New("fn failed")
	if err := withoutNetAdmin(func() error { return want }); err != want {
		t.Errorf("withoutNetAdmin(fn that fails) = %v, want %v", err, want)
	}
}

// A persistent device made for a user (`ip tuntap add DEV mode tap user
// USER`) is attached by that user without CAP_NET_ADMIN: it keeps its own
// MAC rather than the default, and a device left down is a warning that
// says how to bring it up. An asked-for MAC it cannot get is an error that
// says how to do without. (Here the user is root without CAP_NET_ADMIN,
// attaching a device with no owner: the kernel lets either attach.)
//
// Unlike the rest of the suite, the device is in the test's own namespace:
// OpenTAP with Netns would do its netlink work and its attach on a thread
// of its own that enters the namespace, and such a thread has CAP_NET_ADMIN
// whatever the thread that calls OpenTAP dropped.
func TestTAPOwnerWithoutNetAdmin(t *testing.T) {
	name := ownTAP(t)
	h := nlHandle(t, "")
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	own := link.Attrs().HardwareAddr
	var logBuf syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	var openErr, closeErr, askedErr error
	var gotMAC string
	plain, asked := mustParse(t, "a=tap:"+name), mustParse(t, fmt.Sprintf("a=tap:%s,mac=%s", name, tapMAC))
	if err := withoutNetAdmin(func() error {
		r, err := plain.Open(transport.Options{Logger: log})
		if openErr = err; err != nil {
			return nil
		}
		gotMAC = r.Spec().Options["mac"]
		closeErr = r.Close()
		r, askedErr = asked.Open(transport.Options{})
		if askedErr == nil {
			r.Close()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if openErr != nil {
		t.Fatalf("Open(a=tap:%s) by the owner without CAP_NET_ADMIN = %v, want the device attached as it is", name, openErr)
	}
	if closeErr != nil {
		t.Errorf("Close() = %v", closeErr)
	}
	if gotMAC != own.String() {
		t.Errorf("runner Spec mac = %q, want the device's own %s", gotMAC, own)
	}
	for _, want := range []string{"keeps its own MAC " + own.String(), "ip link set " + name + " up"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log %q does not say %q", logBuf.String(), want)
		}
	}
	if askedErr == nil || !strings.Contains(askedErr.Error(), "CAP_NET_ADMIN") || !strings.Contains(askedErr.Error(), "leave mac= out") {
		t.Errorf("Open with mac=%s without CAP_NET_ADMIN = %v, want an error that says how to grant it or do without", tapMAC, askedErr)
	}
	if link, err = h.LinkByName(name); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(link.Attrs().HardwareAddr, own) || link.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("after Close: MAC %s flags %v, want %s and down, as found", link.Attrs().HardwareAddr, link.Attrs().Flags, own)
	}
}

// A VXLAN port on the same hub gives a tap port without mtu= an MTU: for a
// device its owner attaches without CAP_NET_ADMIN that is a default, as
// the MAC is: the device keeps its own MTU, with a warning that says how to
// set it, and the warning that the device's MTU is more than the VXLAN port
// carries does not tell to lower an mtu= that was never given. (In the
// test's namespace, as TestTAPOwnerWithoutNetAdmin says why.)
func TestTAPOwnerImpliedMTU(t *testing.T) {
	name := ownTAP(t)
	h := nlHandle(t, "")
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	own := link.Attrs().MTU
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().String()
	c.Close()
	specs, _ := transport.WithSegmentMTU([]transport.Spec{mustParse(t, "host=tap:"+name), mustParse(t, "ov=vxlan:"+local+",remote=127.0.0.3,vni=42")}, 0)
	const implied = 1450
	if got := specs[0].Options["mtu"]; got != strconv.Itoa(implied) || own == implied {
		t.Fatalf("tap port's implied MTU %q, device's own %d; want %d and another", got, own, implied)
	}
	var logBuf syncbuf.Buffer
	opts := transport.Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	ov, err := specs[1].Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ov.Close()
	var openErr, closeErr error
	var gotMTU string
	if err := withoutNetAdmin(func() error {
		r, err := specs[0].Open(opts)
		if openErr = err; err != nil {
			return nil
		}
		gotMTU = r.Spec().Options["mtu"]
		closeErr = r.Close()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if openErr != nil {
		t.Fatalf("Open(%s) by the owner without CAP_NET_ADMIN = %v, want the device attached with its own MTU", specs[0], openErr)
	}
	if closeErr != nil {
		t.Errorf("Close() = %v", closeErr)
	}
	if gotMTU != strconv.Itoa(own) {
		t.Errorf("runner Spec mtu = %q, want the device's own %d", gotMTU, own)
	}
	log := strings.ReplaceAll(logBuf.String(), `\"`, `"`)
	for _, want := range []string{
		fmt.Sprintf("keeps its own MTU %d", own),
		fmt.Sprintf("ip link set %s mtu %d", name, implied),
		fmt.Sprintf(`(port "host") has MTU %d, more than the %d that VXLAN port "ov" carries`, own, implied),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not say %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "lower its mtu=") {
		t.Errorf("log tells to lower an mtu= that was not given:\n%s", log)
	}
	if link, err = h.LinkByName(name); err != nil {
		t.Fatal(err)
	}
	if got := link.Attrs().MTU; got != own {
		t.Errorf("after Close: MTU %d, want %d as found", got, own)
	}
}
