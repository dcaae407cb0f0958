//go:build linux

package tap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/tap"
	"l2hub/tap/taptest"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// The scenario inside a namespace: a TAP in a fresh namespace and a
// netstack "VM" on one hub reach each other by ARP, ping and TCP, in both
// directions, and the capture shows it.
func TestTAPAcrossHub(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	hostIP, vmIP := netip.MustParseAddr("10.42.0.1"), netip.MustParseAddr("10.42.0.10")
	spec := mustParse(t, fmt.Sprintf("%s=tap:%s,ip=10.42.0.1/24,mac=%s,netns=%s", hostPort, name, tapMAC, name))
	l := startLab(t, spec, "10.42.0.10/24", "")
	if got := l.runner.Spec().Options["mac"]; got != tapMAC.String() {
		t.Errorf("runner Spec mac = %q, want %q", got, tapMAC)
	}
	pinger := newKernelPinger(t, name, hostIP.String())

	t.Run("ping-from-host", func(t *testing.T) {
		if err := pinger.ping(vmIP, 1, transporttest.HangGuard); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("arp-resolved", func(t *testing.T) {
		h := nlHandle(t, name)
		link, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		neighs, err := h.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range neighs {
			if n.IP.Equal(vmIP.AsSlice()) {
				if !bytes.Equal(n.HardwareAddr, vmMAC) {
					t.Fatalf("got neighbour %s at %s, want %s", vmIP, n.HardwareAddr, vmMAC)
				}
				return
			}
		}
		t.Fatalf("got neighbours %v, want %s at %s", neighs, vmIP, vmMAC)
	})
	t.Run("ping-from-vm", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), transporttest.HangGuard)
		defer cancel()
		if err := l.vm.Ping(ctx, hostIP, 7); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tcp-host-dials", func(t *testing.T) {
		l.hostDialsVM(t, name, 7000, "hello from the host side")
	})
	t.Run("tcp-vm-dials", func(t *testing.T) {
		var ln net.Listener
		inNetns(t, name, func() error {
			var err error
			ln, err = net.Listen("tcp", "10.42.0.1:0")
			return err
		})
		defer ln.Close()
		echoOnce(t, ln)
		ctx, cancel := context.WithTimeout(context.Background(), transporttest.HangGuard)
		defer cancel()
		c, err := l.vm.DialTCP(ctx, netip.MustParseAddrPort(ln.Addr().String()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		exchange(t, c, "hello from the VM side")
	})

	l.stop()
	t.Run("capture", func(t *testing.T) {
		frames := readCapture(t, l.capture)
		for _, want := range []struct {
			what  string
			port  string
			match func(gopacket.Packet) bool
		}{
			{"ARP request from the TAP for the VM", hostPort, isARP(layers.ARPRequest, tapMAC, vmIP)},
			{"ARP reply from the VM", vmPort, isARP(layers.ARPReply, vmMAC, vmIP)},
			{"echo request from the host", hostPort, isEcho(8, hostIP, vmIP)},
			{"echo reply from the VM", vmPort, isEcho(0, vmIP, hostIP)},
			{"echo request from the VM", vmPort, isEcho(8, vmIP, hostIP)},
			{"echo reply from the host", hostPort, isEcho(0, hostIP, vmIP)},
		} {
			if _, ok := find(frames, want.port, want.match); !ok {
				t.Errorf("capture of %d frames: no %s on port %s", len(frames), want.what, want.port)
			}
		}
	})
}

// The "done when", with the TAP in the test's own namespace (as
// `sudo l2hub serve --port host=tap:l2h0,ip=10.42.0.1/24` puts it in the
// host's): ping from the host reaches the "VM" through the hub and the
// capture shows it. The subnet is random so that parallel runs do not meet.
func TestTAPHostNamespace(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	net3 := 100 + rand.IntN(100)
	hostIP := netip.AddrFrom4([4]byte{10, 42, byte(net3), 1})
	vmIP := netip.AddrFrom4([4]byte{10, 42, byte(net3), 10})
	spec := mustParse(t, fmt.Sprintf("%s=tap:%s,ip=%s/24", hostPort, name, hostIP))
	l := startLab(t, spec, vmIP.String()+"/24", "")
	host, _ := os.Hostname()
	wantMAC := tap.DefaultTAPMAC(host, tap.CurrentNetns(), name, hostPort)
	if got := l.runner.Spec().Options["mac"]; got != wantMAC.String() {
		t.Errorf("runner Spec mac = %q, want the default %s", got, wantMAC)
	}
	if link, err := nlHandle(t, "").LinkByName(name); err != nil {
		t.Fatalf("the TAP device is not in the test's namespace: %v", err)
	} else if !bytes.Equal(link.Attrs().HardwareAddr, wantMAC) {
		t.Errorf("device MAC = %s, want %s", link.Attrs().HardwareAddr, wantMAC)
	}
	if err := newKernelPinger(t, "", hostIP.String()).ping(vmIP, 1, transporttest.HangGuard); err != nil {
		t.Fatal(err)
	}
	l.stop()
	frames := readCapture(t, l.capture)
	if _, ok := find(frames, hostPort, isEcho(8, hostIP, vmIP)); !ok {
		t.Errorf("capture of %d frames: no echo request from the host", len(frames))
	}
	if _, ok := find(frames, vmPort, isEcho(0, vmIP, hostIP)); !ok {
		t.Errorf("capture of %d frames: no echo reply from the VM", len(frames))
	}
}

// The default MAC tells apart the host ports of two hubs on one machine
// that share a port name: hubs in one namespace with two devices, and hubs
// in two namespaces (`ip netns exec NS l2hub serve ...`) with one device
// name. Each is the same on the next run.
func TestTAPDefaultMAC(t *testing.T) {
	taptest.NeedTAP(t)
	// macOf opens spec from a thread in namespace ns ("" for the test's),
	// as a hub started there would, and returns the device's MAC.
	macOf := func(t *testing.T, ns, spec string) string {
		t.Helper()
		var r transport.Runner
		inNetns(t, ns, func() error {
			var err error
			r, err = mustParse(t, spec).Open(transport.Options{})
			return err
		})
		defer r.Close()
		return r.Spec().Options["mac"]
	}
	t.Run("two-devices-one-namespace", func(t *testing.T) {
		a, b := taptest.UniqueName(t), taptest.UniqueName(t)
		macA, macB := macOf(t, "", "host=tap:"+a), macOf(t, "", "host=tap:"+b)
		if macA == macB {
			t.Errorf("host=tap:%s and host=tap:%s both got MAC %s, want different ones", a, b, macA)
		}
		if again := macOf(t, "", "host=tap:"+a); again != macA {
			t.Errorf("host=tap:%s got MAC %s, then %s; want the same on every run", a, macA, again)
		}
	})
	t.Run("one-device-name-two-namespaces", func(t *testing.T) {
		nsA, nsB := taptest.UniqueName(t), taptest.UniqueName(t)
		addNetns(t, nsA)
		addNetns(t, nsB)
		dev := nsA
		macA, macB := macOf(t, nsA, "host=tap:"+dev), macOf(t, nsB, "host=tap:"+dev)
		if macA == macB {
			t.Errorf("host=tap:%s in namespaces %s and %s both got MAC %s, want different ones", dev, nsA, nsB, macA)
		}
		if again := macOf(t, nsA, "host=tap:"+dev); again != macA {
			t.Errorf("host=tap:%s in namespace %s got MAC %s, then %s; want the same on every run", dev, nsA, macA, again)
		}
		// The namespace counts by its name, which outlives its inode (a
		// reboot, `ip netns del` and add).
		var cur string
		inNetns(t, nsA, func() error { cur = tap.CurrentNetns(); return nil })
		host, _ := os.Hostname()
		if want := tap.DefaultTAPMAC(host, nsA, dev, "host").String(); cur != nsA || macA != want {
			t.Errorf("in namespace %s: CurrentNetns() = %q, MAC %s; want %q, %s", nsA, cur, macA, nsA, want)
		}
		taptest.RemoveByName(nsA)
		taptest.RemoveByName(nsB)
	})
	// netns= by name, by its file in /run/netns and by a process's
	// /proc/PID/ns/net (whose PID changes from run to run) is one
	// namespace, one MAC.
	t.Run("namespace-by-name-or-path", func(t *testing.T) {
		ns, dev := taptest.UniqueName(t), taptest.UniqueName(t)
		addNetns(t, ns)
		defer taptest.RemoveByName(ns)
		var sleeper *exec.Cmd
		inNetns(t, ns, func() error { // a child forked here starts in ns
			sleeper = exec.Command("sleep", "60")
			return sleeper.Start()
		})
		defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
		byName := macOf(t, "", fmt.Sprintf("host=tap:%s,netns=%s", dev, ns))
		for _, path := range []string{filepath.Join(tap.NetnsDir, ns), fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid)} {
			if got := macOf(t, "", fmt.Sprintf("host=tap:%s,netns=%s", dev, path)); got != byName {
				t.Errorf("host=tap:%s,netns=%s got MAC %s, want %s as with netns=%s", dev, path, got, byName, ns)
			}
		}
	})
}

// A policy applies to a TAP port like to any other: echo requests from the
// host are dropped (and the capture says by which rule), while the VM's
// pings and TCP still pass.
func TestTAPPolicy(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	hostIP, vmIP := netip.MustParseAddr("10.42.0.1"), netip.MustParseAddr("10.42.0.10")
	spec := mustParse(t, fmt.Sprintf("%s=tap:%s,ip=10.42.0.1/24,netns=%s", hostPort, name, name))
	policy := `
seed: 1
rules:
  - name: no-echo-from-host
    match: {from: host, protocol: icmp, payload_hex: "08"}
    drop: true
`
	l := startLab(t, spec, "10.42.0.10/24", policy)
	pinger := newKernelPinger(t, name, hostIP.String())

	if err := pinger.ping(vmIP, 1, failWait); err == nil {
		t.Errorf("ping from the host got a reply, want its request dropped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), transporttest.HangGuard)
	defer cancel()
	if err := l.vm.Ping(ctx, hostIP, 2); err != nil {
		t.Errorf("ping from the VM: %v, want a reply (the rule drops only the host's requests)", err)
	}
	l.hostDialsVM(t, name, 7001, "tcp passes the policy")

	var dropped uint64
	for _, r := range l.policy.Stats().Rules {
		if r.Rule == "no-echo-from-host" {
			dropped = r.Dropped
		}
	}
	if dropped == 0 {
		t.Errorf("rule no-echo-from-host dropped %d frames, want at least 1", dropped)
	}
	l.stop()
	frames := readCapture(t, l.capture)
	req, ok := find(frames, hostPort, isEcho(8, hostIP, vmIP))
	switch {
	case !ok:
		t.Errorf("capture: no echo request from the host")
	case !strings.Contains(req.comment, "no-echo-from-host"):
		t.Errorf("capture comment on the dropped request = %q, want it to name rule no-echo-from-host", req.comment)
	}
	if _, ok := find(frames, vmPort, isEcho(0, vmIP, hostIP)); ok {
		t.Errorf("capture: an echo reply to the host's dropped request reached the hub")
	}
}

// The device itself, opened with OpenTAP in a namespace, against an
// AF_PACKET socket on it: frame sizes both ways, short buffers, write
// bounds, close semantics and the device's disappearance.
func TestTAPDevice(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	const maxFrame = 1514
	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MAC: tapMAC, MaxFrame: maxFrame})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if want := "tap " + name + " in netns " + name + " " + tapMAC.String(); d.Describe() != want {
		t.Errorf("Describe() = %q, want %q", d.Describe(), want)
	}
	h := nlHandle(t, name)
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("the device is not in namespace %s: %v", name, err)
	}
	if tt, ok := link.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP || !tt.NonPersist {
		t.Errorf("got link %T %+v, want a non-persistent TAP device", link, link)
	}
	if link.Attrs().Flags&net.FlagUp == 0 || !bytes.Equal(link.Attrs().HardwareAddr, tapMAC) {
		t.Errorf("got link flags %v MAC %s, want up with MAC %s", link.Attrs().Flags, link.Attrs().HardwareAddr, tapMAC)
	}
	pe := openPacketEnd(t, name, name)
	buf := make([]byte, hub.DefaultMaxFrame)
	for i, size := range []int{hub.EthHeaderLen, 60, 1514} {
		t.Run(fmt.Sprintf("host-to-hub-%d", size), func(t *testing.T) {
			f := transporttest.Frame(0xb2, size, i)
			if err := pe.send(f); err != nil {
				t.Fatal(err)
			}
			n, err := readTest(t, d, buf)
			if err != nil || !bytes.Equal(buf[:n], f) {
				t.Fatalf("ReadFrame = %d bytes %x..., %v; want %x...", n, buf[:min(n, 20)], err, f[:min(size, 20)])
			}
		})
		t.Run(fmt.Sprintf("hub-to-host-%d", size), func(t *testing.T) {
			f := transporttest.Frame(0xa1, size, i)
			if err := d.WriteFrame(f); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 2048)
			n, err := pe.recv(got)
			if err != nil || !bytes.Equal(got[:n], f) {
				t.Fatalf("received %d bytes %x..., %v; want %x...", n, got[:min(n, 20)], err, f[:min(size, 20)])
			}
		})
	}
	t.Run("short-buffer", func(t *testing.T) {
		big, good := transporttest.Frame(0xb2, 1514, 100), transporttest.Frame(0xb2, 60, 101)
		for _, f := range [][]byte{big, good} {
			if err := pe.send(f); err != nil {
				t.Fatal(err)
			}
		}
		fe := readDrop(t, d, make([]byte, 100), big)
		if fe.Reason != hub.DropOversize || fe.Len != 1514 {
			t.Fatalf("got FrameError{%s, %d}, want {%s, 1514}", fe.Reason, fe.Len, hub.DropOversize)
		}
		n, err := readTest(t, d, buf)
		if err != nil || !bytes.Equal(buf[:n], good) {
			t.Fatalf("next ReadFrame = %d bytes, %v; want the 60-byte frame", n, err)
		}
	})
	t.Run("write-bounds", func(t *testing.T) {
		for _, size := range []int{0, maxFrame + 1} {
			if err := d.WriteFrame(make([]byte, size)); !errors.Is(err, hub.ErrFrameTooLarge) {
				t.Errorf("WriteFrame(%d bytes) = %v, want an error wrapping hub.ErrFrameTooLarge", size, err)
			}
		}
		var fe *hub.FrameError
		if err := d.WriteFrame(make([]byte, hub.EthHeaderLen-1)); !errors.As(err, &fe) || fe.Reason != hub.DropRunt {
			t.Errorf("WriteFrame(%d bytes) = %v, want a *hub.FrameError (runt)", hub.EthHeaderLen-1, err)
		}
	})
	t.Run("close-unblocks-read", func(t *testing.T) {
		ch := make(chan error, 1)
		go func() {
			for {
				if _, err := d.ReadFrame(buf); err != nil {
					ch <- err
					return
				}
			}
		}()
		time.Sleep(50 * time.Millisecond) // let the read block; the test holds without
		if err := d.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("pending ReadFrame returned %v, want net.ErrClosed", err)
			}
		case <-time.After(transporttest.HangGuard):
			t.Fatalf("Close did not unblock ReadFrame within %v", transporttest.HangGuard)
		}
		if _, err := d.ReadFrame(buf); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrame after Close = %v, want net.ErrClosed", err)
		}
		if err := d.WriteFrame(transporttest.Frame(0xa1, 60, 0)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteFrame after Close = %v, want net.ErrClosed", err)
		}
		if err := d.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close = %v, want net.ErrClosed", err)
		}
		if _, err := os.Lstat(filepath.Join(tap.NetnsDir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("namespace %s after Close: %v, want it deleted", name, err)
		}
	})
}

// A port whose maximum frame is below what the device's MTU allows drops a
// longer frame the host sends as oversize, even into a buffer that would
// hold it, and reads on.
func TestTAPReadHonoursMaxFrame(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	const maxFrame = 1000 // the device keeps its MTU of 1500
	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MAC: tapMAC, MaxFrame: maxFrame})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pe := openPacketEnd(t, name, name)
	big, good := transporttest.Frame(0xb2, 1200, 1), transporttest.Frame(0xb2, 60, 2)
	for _, f := range [][]byte{big, good} {
		if err := pe.send(f); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	if fe := readDrop(t, d, buf, big); fe.Reason != hub.DropOversize || fe.Len != len(big) {
		t.Fatalf("got FrameError{%s, %d}, want {%s, %d}", fe.Reason, fe.Len, hub.DropOversize, len(big))
	}
	n, err := readTest(t, d, buf)
	if err != nil || !bytes.Equal(buf[:n], good) {
		t.Fatalf("next ReadFrame = %d bytes, %v; want the 60-byte frame", n, err)
	}
}

// What the host does to the interface under the hub: set down, frames to it
// are counted as port-down and the device stays usable; deleted, reads and
// writes fail for good and say why.
func TestTAPHostChanges(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := nlHandle(t, name)
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("set-down", func(t *testing.T) {
		if err := h.LinkSetDown(link); err != nil {
			t.Fatal(err)
		}
		var fe *hub.FrameError
		err := d.WriteFrame(transporttest.Frame(0xa1, 60, 0))
		if !errors.As(err, &fe) || fe.Reason != hub.DropDown {
			t.Fatalf("WriteFrame to a down interface = %v, want a *hub.FrameError (%s)", err, hub.DropDown)
		}
		if n := strings.Count(err.Error(), d.Describe()); n != 1 {
			t.Errorf("WriteFrame to a down interface = %q, names the device %d times, want once", err, n)
		}
		if err := h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
		if err := d.WriteFrame(transporttest.Frame(0xa1, 60, 1)); err != nil {
			t.Fatalf("WriteFrame once the interface is up again = %v, want nil", err)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		readErr := make(chan error, 1)
		go func() {
			buf := make([]byte, hub.DefaultMaxFrame)
			for {
				if _, err := d.ReadFrame(buf); err != nil {
					readErr <- err
					return
				}
			}
		}()
		if err := h.LinkDel(link); err != nil {
			t.Fatal(err)
		}
		var fe *hub.FrameError
		for what, err := range map[string]error{"ReadFrame": waitErr(t, readErr), "WriteFrame": d.WriteFrame(transporttest.Frame(0xa1, 60, 2))} {
			if err == nil || errors.As(err, &fe) || errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "the interface was deleted") {
				t.Errorf("%s after the interface was deleted = %v, want a fatal error that says so", what, err)
			}
		}
	})
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(transporttest.HangGuard):
		t.Fatalf("no error within %v", transporttest.HangGuard)
		return nil
	}
}

// What a tap port creates goes when it closes, whatever it was created in;
// what existed before stays, as it was.
func TestTAPCleanup(t *testing.T) {
	taptest.NeedTAP(t)
	linkIn := func(t *testing.T, ns, name string) netlink.Link {
		t.Helper()
		l, err := nlHandle(t, ns).LinkByName(name)
		if err != nil {
			return nil
		}
		return l
	}
	nsExists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(tap.NetnsDir, name))
		return err == nil
	}
	open := func(t *testing.T, text string) transport.Runner {
		t.Helper()
		r, err := mustParse(t, text).Open(transport.Options{})
		if err != nil {
			t.Fatalf("Open(%s): %v", text, err)
		}
		return r
	}

	t.Run("created-namespace-and-device", func(t *testing.T) {
		name := taptest.UniqueName(t)
		r := open(t, fmt.Sprintf("t=tap:%s,ip=10.42.0.1/24,netns=%s", name, name))
		if !nsExists(name) || linkIn(t, name, name) == nil {
			t.Fatalf("after Open: namespace %v, device %v; want both", nsExists(name), linkIn(t, name, name) != nil)
		}
		if lo := linkIn(t, name, "lo"); lo == nil || lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lo in the new namespace: got %v, want it up", lo)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if nsExists(name) {
			t.Errorf("namespace %s still there after Close", name)
		}
	})
	t.Run("device-in-own-namespace", func(t *testing.T) {
		name := taptest.UniqueName(t)
		r := open(t, fmt.Sprintf("t=tap:%s", name))
		if linkIn(t, "", name) == nil {
			t.Fatalf("after Open: no device %s", name)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if linkIn(t, "", name) != nil {
			t.Errorf("device %s still there after Close", name)
		}
	})
	t.Run("existing-namespace-kept", func(t *testing.T) {
		name := taptest.UniqueName(t)
		addNetns(t, name)
		r := open(t, fmt.Sprintf("t=tap:%s,netns=%s", name, name))
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if !nsExists(name) {
			t.Fatalf("namespace %s deleted, want it kept (it was there before)", name)
		}
		if linkIn(t, name, name) != nil {
			t.Errorf("device %s still in namespace %s after Close", name, name)
		}
		taptest.RemoveByName(name)
	})
	t.Run("existing-device-restored", func(t *testing.T) {
		name := taptest.UniqueName(t)
		addNetns(t, name)
		h := nlHandle(t, name)
		oldMAC := net.HardwareAddr{0x02, 0xee, 0, 0, 0, 0x01}
		addTuntap(t, name, name, netlink.TUNTAP_MODE_TAP)
		if err := h.LinkSetHardwareAddr(linkIn(t, name, name), oldMAC); err != nil {
			t.Fatal(err)
		}
		r := open(t, fmt.Sprintf("t=tap:%s,ip=10.42.0.1/24,mac=%s,netns=%s", name, tapMAC, name))
		l := linkIn(t, name, name)
		addrs, _ := h.AddrList(l, netlink.FAMILY_V4)
		if l.Attrs().Flags&net.FlagUp == 0 || !bytes.Equal(l.Attrs().HardwareAddr, tapMAC) || len(addrs) != 1 {
			t.Errorf("while open: flags %v MAC %s addresses %v; want up, %s, 10.42.0.1/24", l.Attrs().Flags, l.Attrs().HardwareAddr, addrs, tapMAC)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		l = linkIn(t, name, name)
		if l == nil {
			t.Fatalf("device %s deleted, want it kept (it was there before)", name)
		}
		addrs, _ = h.AddrList(l, netlink.FAMILY_V4)
		if l.Attrs().Flags&net.FlagUp != 0 || !bytes.Equal(l.Attrs().HardwareAddr, oldMAC) || len(addrs) != 0 {
			t.Errorf("after Close: flags %v MAC %s addresses %v; want down, %s, none", l.Attrs().Flags, l.Attrs().HardwareAddr, addrs, oldMAC)
		}
		if tt, ok := l.(*netlink.Tuntap); !ok || tt.NonPersist {
			t.Errorf("after Close: got %+v, want a persistent TAP device still", l)
		}
		taptest.RemoveByName(name)
	})
	t.Run("two-ports-one-namespace", func(t *testing.T) {
		ns, dev2 := taptest.UniqueName(t), taptest.UniqueName(t)
		r1 := open(t, fmt.Sprintf("a=tap:%s,netns=%s", ns, ns))
		r2 := open(t, fmt.Sprintf("b=tap:%s,netns=%s", dev2, ns))
		if err := r1.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if !nsExists(ns) || linkIn(t, ns, dev2) == nil {
			t.Fatalf("after the first port closed: namespace %v, second device %v; want both", nsExists(ns), linkIn(t, ns, dev2) != nil)
		}
		if err := r2.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if nsExists(ns) {
			t.Errorf("namespace %s still there after its last port closed", ns)
		}
	})
	// The user deletes the hub's namespace and makes another of that name
	// (`ip netns del NS; ip netns add NS`) while the hub runs: the hub's
	// exit leaves the user's namespace alone.
	t.Run("created-namespace-name-taken-over", func(t *testing.T) {
		name := taptest.UniqueName(t)
		r := open(t, fmt.Sprintf("t=tap:%s,netns=%s", name, name))
		path := filepath.Join(tap.NetnsDir, name)
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		addNetns(t, name)
		want := nsInode(t, path)
		if err := r.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if got := nsInode(t, path); got != want {
			t.Errorf("after Close: %s is namespace %d, want the user's %d kept", path, got, want)
		}
		taptest.RemoveByName(name)
	})
	// A second hub puts its device in a namespace the first created (as
	// its netns= names it, not counted in this process's users: a path):
	// the first hub's exit leaves the namespace, named, to the second, and
	// says why.
	t.Run("created-namespace-shared-with-another-hub", func(t *testing.T) {
		ns, dev2 := taptest.UniqueName(t), taptest.UniqueName(t)
		var logBuf syncbuf.Buffer
		log := slog.New(slog.NewTextHandler(&logBuf, nil))
		r1, err := mustParse(t, fmt.Sprintf("a=tap:%s,netns=%s", ns, ns)).Open(transport.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		r2 := open(t, fmt.Sprintf("b=tap:%s,netns=%s", dev2, filepath.Join(tap.NetnsDir, ns)))
		defer r2.Close()
		if err := r1.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		if !nsExists(ns) {
			t.Fatalf("after the creator closed: namespace %s deleted, want it kept for the other hub's device", ns)
		}
		if linkIn(t, ns, dev2) == nil {
			t.Errorf("after the creator closed: no device %s in namespace %s, want the other hub's device there", dev2, ns)
		}
		for _, want := range []string{"network namespace " + ns, dev2, "ip netns del " + ns} {
			if !strings.Contains(logBuf.String(), want) {
				t.Errorf("log %q does not say %q", logBuf.String(), want)
			}
		}
		if err := r2.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		taptest.RemoveByName(ns)
	})
	t.Run("hub-detach", func(t *testing.T) {
		name := taptest.UniqueName(t)
		spec := mustParse(t, fmt.Sprintf("%s=tap:%s,ip=10.42.0.1/24,netns=%s", hostPort, name, name))
		l := startLab(t, spec, "10.42.0.10/24", "")
		if err := l.hub.Detach(hostPort); err != nil {
			t.Fatal(err)
		}
		l.waitAttached(t, hostPort, false)
		if nsExists(name) {
			t.Errorf("namespace %s still there after the hub let go of the device", name)
		}
		l.stop()
	})
}

// Errors say what is wrong and what to do; nothing is left behind.
func TestTAPOpenErrors(t *testing.T) {
	taptest.NeedTAP(t)
	notNS := filepath.Join(t.TempDir(), "not-a-namespace")
	if err := os.WriteFile(notNS, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, name string) string // returns the spec text
		want  string
	}{
		{"not-a-tap", func(t *testing.T, name string) string {
			addNetns(t, name)
			return fmt.Sprintf("a=tap:lo,netns=%s", name)
		}, `is not a TAP device (its type is "device")`},
		{"tun-device", func(t *testing.T, name string) string {
			addNetns(t, name)
			addTuntap(t, name, name, netlink.TUNTAP_MODE_TUN)
			return fmt.Sprintf("a=tap:%s,netns=%s", name, name)
		}, "is a TUN device"},
		{"in-use", func(t *testing.T, name string) string {
			r, err := mustParse(t, fmt.Sprintf("first=tap:%s,netns=%s", name, name)).Open(transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return fmt.Sprintf("a=tap:%s,netns=%s", name, name)
		}, "in use by another program"},
		{"netns-path-missing", func(t *testing.T, name string) string {
			return fmt.Sprintf("a=tap:%s,netns=/nonexistent/%s", name, name)
		}, "no such file or directory"},
		{"netns-not-a-namespace", func(t *testing.T, name string) string {
			return fmt.Sprintf("a=tap:%s,netns=%s", name, notNS)
		}, "is not a network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := taptest.UniqueName(t)
			text := tc.setup(t, name)
			r, err := mustParse(t, text).Open(transport.Options{})
			if err == nil {
				r.Close()
				t.Fatalf("Open(%s) = nil error, want %q", text, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `port "a"`) {
				t.Errorf("Open(%s) = %q, want it to name the port and say %q", text, err, tc.want)
			}
			taptest.RemoveByName(name)
		})
	}
}

// Without CAP_NET_ADMIN the error says how to grant it, and with Optional
// the port stays down instead. The capability is dropped on one locked OS
// thread only (capabilities are per thread), which then ends.
func TestTAPWithoutNetAdmin(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	spec := mustParse(t, fmt.Sprintf("a=tap:%s,ip=10.42.0.1/24", name))
	type result struct {
		err      error
		optional transport.Runner
		optErr   error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var res result
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			res.err = fmt.Errorf("capget: %w", err)
			ch <- res
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			res.err = fmt.Errorf("capset: %w", err)
			ch <- res
			return
		}
		var r transport.Runner
		r, res.err = spec.Open(transport.Options{})
		if r != nil {
			r.Close()
		}
		res.optional, res.optErr = spec.Open(transport.Options{Optional: true})
		ch <- res
	}()
	res := <-ch
	if res.err == nil {
		t.Fatalf("Open without CAP_NET_ADMIN = nil error, want one")
	}
	for _, want := range []string{`port "a"`, "CAP_NET_ADMIN", "setcap cap_net_admin+ep"} {
		if !strings.Contains(res.err.Error(), want) {
			t.Errorf("Open without CAP_NET_ADMIN = %q, want it to say %q", res.err, want)
		}
	}
	if !errors.Is(res.err, fs.ErrPermission) {
		t.Errorf("errors.Is(%v, fs.ErrPermission) = false, want true", res.err)
	}
	if res.optErr != nil {
		t.Fatalf("Open with Optional = %v, want a runner whose port stays down", res.optErr)
	}
	defer res.optional.Close()
	if err := transport.OpenErr(res.optional); err == nil || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("OpenErr = %v, want the CAP_NET_ADMIN error", err)
	}
}

// TestTAPKernelDrops floods the device from the host while the hub reads
// nothing: the kernel keeps txqueuelen frames for the hub and drops the
// rest, and KernelDrops counts those, read again as the device closes.
func TestTAPKernelDrops(t *testing.T) {
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	d, err := tap.OpenTAP(tap.TAPConfig{Name: name, Netns: name, MAC: tapMAC, MaxFrame: hub.DefaultMaxFrame})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	link, err := nlHandle(t, name).LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	qlen := link.Attrs().TxQLen
	if qlen <= 0 {
		t.Fatalf("device %s has txqueuelen %d", name, qlen)
	}
	before := d.KernelDrops()
	pe := openPacketEnd(t, name, name)
	sent := 3 * qlen
	for i := range sent {
		if err := pe.send(transporttest.Frame(0xb2, 60, i)); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The device holds at most qlen of them (the host's own frames, IPv6
	// solicitations, take slots too and only add drops).
	if got, want := d.KernelDrops()-before, uint64(sent-qlen); got < want || got > uint64(sent)+64 {
		t.Errorf("KernelDrops grew by %d after %d frames into a queue of %d, want at least %d (and not above the frames sent)", got, sent, qlen, want)
	}
}
