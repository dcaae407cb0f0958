//go:build linux

package tap_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"l2hub/capture"
	"l2hub/capture/capturetest"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/tap"
	"l2hub/tap/taptest"
	"l2hub/transport"
	"l2hub/transport/netstack"
	"l2hub/transport/transporttest"
)

// Helpers for tundev_test.go, whose tests create real TAP devices and
// network namespaces.
// Every name is unique (l2t + random hex), and every test checks, after the
// code under test has closed, that nothing of its names is left, then
// deletes by name whatever is, so that a failed run leaves nothing behind.

const (
	hostPort = "host" // the TAP device's port
	vmPort   = "vm"   // the netstack host standing in for a VM
	// failWait bounds a wait whose success is that nothing arrives.
	failWait = time.Second
)

var (
	vmMAC  = net.HardwareAddr{0x02, 0x42, 0x00, 0x00, 0x00, 0x0a}
	tapMAC = net.HardwareAddr{0x02, 0x42, 0x00, 0x00, 0x00, 0x01}
)

// addNetns creates namespace name for the test (as `ip netns add` would).
func addNetns(t *testing.T, name string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ns, err := netns.NewNamed(name)
		if err == nil {
			ns.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// nsInode returns the inode of the namespace a namespace file (a name's
// bind mount, /proc/PID/ns/net) refers to: its identity.
func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// addTuntap creates a persistent TUN or TAP device in namespace ns, as `ip
// tuntap add` would. (netlink opens /dev/net/tun in the calling thread's
// namespace, whatever its handle's.)
func addTuntap(t *testing.T, ns, name string, mode netlink.TuntapMode) {
	t.Helper()
	inNetns(t, ns, func() error {
		return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: mode, Flags: netlink.TUNTAP_NO_PI})
	})
}

// ownTAP makes a TAP device with no owner in the test's own namespace,
// removed when the test ends, and returns its name; it skips the test
// where TAP devices cannot be made.
func ownTAP(t *testing.T) string {
	t.Helper()
	taptest.NeedTAP(t)
	name := taptest.UniqueName(t)
	addTuntap(t, "", name, netlink.TUNTAP_MODE_TAP)
	t.Cleanup(func() { taptest.RemoveByName(name) })
	return name
}

// inNetns runs fn on an OS thread inside namespace name (the test's own
// namespace for ""), for the kernel's side of a test: sockets fn opens
// stay in that namespace.
func inNetns(t *testing.T, name string, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if name != "" {
			ns, err := netns.GetFromName(name)
			if err != nil {
				errc <- err
				return
			}
			defer ns.Close()
			if err := netns.Set(ns); err != nil {
				errc <- err
				return
			}
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in namespace %q: %v", name, err)
	}
}

// nlHandle returns a netlink handle in namespace name ("" for the test's).
func nlHandle(t *testing.T, name string) *netlink.Handle {
	t.Helper()
	ns := netns.None()
	if name != "" {
		var err error
		if ns, err = netns.GetFromName(name); err != nil {
			t.Fatalf("open namespace %s: %v", name, err)
		}
		defer ns.Close()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// lab is a live hub with a TAP port (host) and a netstack host standing in
// for a VM (vm) at 10.42.0.10, recording the segment.
type lab struct {
	hub      *hub.Hub
	runner   transport.Runner
	vm       *netstack.Host
	policy   *filter.Policy
	capture  string
	stopOnce sync.Once
	stop     func()
}

// startLab runs spec (a tap port named host) and the vm on a hub, with the
// policy policyYAML when it is not empty.
func startLab(t *testing.T, spec transport.Spec, vmAddr, policyYAML string) *lab {
	t.Helper()
	l := &lab{capture: filepath.Join(t.TempDir(), "segment.pcapng")}
	sink, err := capture.Open(capture.Config{Path: l.capture})
	if err != nil {
		t.Fatal(err)
	}
	cfg := hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}, Observers: []hub.Observer{sink}}
	if policyYAML != "" {
		if l.policy, err = filter.Parse([]byte(policyYAML), "test-policy", []string{hostPort, vmPort}); err != nil {
			t.Fatal(err)
		}
		cfg.Policy = l.policy
	}
	if l.hub, err = hub.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	l.stop = func() {
		l.stopOnce.Do(func() {
			cancel()
			wg.Wait()
			if err := sink.Close(); err != nil {
				t.Errorf("close capture: %v", err)
			}
		})
	}
	t.Cleanup(l.stop)
	wg.Go(func() {
		if err := l.hub.Run(ctx); err != nil {
			t.Errorf("hub Run: %v", err)
		}
	})
	for _, p := range []string{hostPort, vmPort} {
		if err := l.hub.AddPort(p, p); err != nil {
			t.Fatal(err)
		}
	}
	if l.runner, err = spec.Open(transport.Options{}); err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	wg.Go(func() {
		if err := l.runner.Run(ctx, l.hub); err != nil {
			t.Errorf("Run(%s): %v", spec, err)
		}
	})
	if l.vm, err = netstack.New(netstack.Config{MAC: vmMAC, Addr: netip.MustParsePrefix(vmAddr)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.hub.Attach(vmPort, l.vm); err != nil {
		t.Fatal(err)
	}
	l.waitAttached(t, hostPort, true)
	return l
}

// hostDialsVM connects from the host's namespace ns to a TCP echo on the
// VM (10.42.0.10:port) and exchanges msg.
func (l *lab) hostDialsVM(t *testing.T, ns string, port uint16, msg string) {
	t.Helper()
	ln, err := l.vm.ListenTCP(port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echoOnce(t, ln)
	var c net.Conn
	inNetns(t, ns, func() error {
		c, err = net.DialTimeout("tcp", fmt.Sprintf("10.42.0.10:%d", port), transporttest.HangGuard)
		return err
	})
	defer c.Close()
	exchange(t, c, msg)
}

// waitAttached waits until port has a peer (or, with !want, none).
func (l *lab) waitAttached(t *testing.T, port string, want bool) {
	t.Helper()
	deadline := time.Now().Add(transporttest.HangGuard)
	for time.Now().Before(deadline) {
		ports, err := l.hub.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if p.Name == port && p.Attached == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("port %s: attached is not %v after %v", port, want, transporttest.HangGuard)
}

// kernelPinger sends ICMP echo requests from the kernel's stack of one
// namespace, through a raw socket made there.
type kernelPinger struct {
	conn net.PacketConn
	id   uint16
}

func newKernelPinger(t *testing.T, ns, local string) *kernelPinger {
	t.Helper()
	p := &kernelPinger{id: uint16(rand.Uint32())}
	inNetns(t, ns, func() error {
		var err error
		p.conn, err = net.ListenPacket("ip4:icmp", local)
		return err
	})
	t.Cleanup(func() { p.conn.Close() })
	return p
}

// ping sends one echo request to dst and waits up to wait for its reply.
func (p *kernelPinger) ping(dst netip.Addr, seq uint16, wait time.Duration) error {
	req := make([]byte, 8, 16)
	req[0] = 8 // echo request
	binary.BigEndian.PutUint16(req[4:], p.id)
	binary.BigEndian.PutUint16(req[6:], seq)
	req = append(req, "l2hub tap"...)
	binary.BigEndian.PutUint16(req[2:], inetChecksum(req))
	if _, err := p.conn.WriteTo(req, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return err
	}
	p.conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("no echo reply from %s: %w", dst, err)
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == p.id &&
			binary.BigEndian.Uint16(buf[6:]) == seq && from.String() == dst.String() {
			return nil
		}
	}
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// echoOnce accepts one connection on ln and echoes what it reads, until
// the peer closes it or the test ends (a peer whose stack is torn down
// never does).
func echoOnce(t *testing.T, ln net.Listener) {
	accepted := make(chan net.Conn, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c
		defer c.Close()
		io.Copy(c, c)
	}()
	t.Cleanup(func() {
		ln.Close() // Accept returns now, if it has not
		select {
		case c := <-accepted:
			c.Close()
		case <-done:
		}
		<-done
	})
}

// exchange writes msg on c and expects it back.
func exchange(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(transporttest.HangGuard))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read the echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("got echo %q, want %q", got, msg)
	}
}

// segmentFrame is one frame of the capture, decoded.
type segmentFrame struct {
	port    string
	dir     capture.Dir
	pkt     gopacket.Packet
	comment string
}

func readCapture(t *testing.T, path string) []segmentFrame {
	t.Helper()
	var out []segmentFrame
	for _, p := range capturetest.Packets(t, path) {
		data := slices.Clone(p.Data)
		out = append(out, segmentFrame{p.IfName, p.Dir, gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default), hub.WithoutPeerNotes(p.Comment)}) // the frame's own notes: attaches are not this test's
	}
	return out
}

// find returns the first frame that entered the hub on port and satisfies
// match.
func find(frames []segmentFrame, port string, match func(gopacket.Packet) bool) (segmentFrame, bool) {
	for _, f := range frames {
		if f.port == port && f.dir == capture.DirIn && match(f.pkt) {
			return f, true
		}
	}
	return segmentFrame{}, false
}

func isARP(op uint16, src net.HardwareAddr, target netip.Addr) func(gopacket.Packet) bool {
	return func(p gopacket.Packet) bool {
		a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || a.Operation != op || !bytes.Equal(a.SourceHwAddress, src) {
			return false
		}
		addr := a.DstProtAddress
		if op == layers.ARPReply {
			addr = a.SourceProtAddress
		}
		return bytes.Equal(addr, target.AsSlice())
	}
}

func isEcho(typ uint8, src, dst netip.Addr) func(gopacket.Packet) bool {
	return func(p gopacket.Packet) bool {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		icmp, ok2 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		return ok && ok2 && icmp.TypeCode.Type() == typ &&
			ip.SrcIP.Equal(src.AsSlice()) && ip.DstIP.Equal(dst.AsSlice())
	}
}

// packetEnd is the kernel side of a TAP device seen through an AF_PACKET
// socket on it: what the hub writes arrives here, what it sends here
// leaves through the device to the hub. It plays the VM end of the device
// tests without the IP stack's own traffic in the way.
type packetEnd struct {
	fd      int
	ifindex int
}

func openPacketEnd(t *testing.T, ns, ifname string) *packetEnd {
	t.Helper()
	p := &packetEnd{fd: -1}
	inNetns(t, ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		p.ifindex = ifc.Index
		proto := int(htons(unix.ETH_P_ALL))
		if p.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			return err
		}
		tv := unix.NsecToTimeval(int64(transporttest.HangGuard))
		if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(p.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: p.ifindex})
	})
	t.Cleanup(func() { unix.Close(p.fd) })
	return p
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (p *packetEnd) send(f []byte) error { _, err := unix.Write(p.fd, f); return err }

// recv returns the next test frame (EtherType 0x88b5) the device received.
func (p *packetEnd) recv(buf []byte) (int, error) {
	for {
		n, from, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			return 0, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n >= hub.EthHeaderLen && buf[12] == 0x88 && buf[13] == 0xb5 {
			return n, nil
		}
	}
}

// readTest reads the device's next test frame, skipping what the kernel
// sends by itself (IPv6 router solicitations and the like).
func readTest(t *testing.T, d *tap.TAPDevice, buf []byte) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			n, err := d.ReadFrame(buf)
			if err != nil || (buf[12] == 0x88 && buf[13] == 0xb5) {
				ch <- result{n, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-time.After(transporttest.HangGuard):
		d.Close()
		t.Fatalf("ReadFrame: no test frame within %v", transporttest.HangGuard)
		return 0, nil
	}
}

// readDrop reads from the device, skipping what the kernel sends by
// itself, until ReadFrame reports a dropped frame, and returns that drop.
// It fails the test if f is delivered whole instead, or no drop comes.
func readDrop(t *testing.T, d *tap.TAPDevice, buf, f []byte) *hub.FrameError {
	t.Helper()
	type result struct {
		fe  *hub.FrameError
		err error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			n, err := d.ReadFrame(buf)
			var fe *hub.FrameError
			switch {
			case errors.As(err, &fe):
				ch <- result{fe: fe}
				return
			case err != nil:
				ch <- result{err: err}
				return
			case bytes.Equal(buf[:n], f):
				ch <- result{err: fmt.Errorf("delivered the %d-byte frame whole", n)}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("ReadFrame = %v, want a *hub.FrameError", r.err)
		}
		return r.fe
	case <-time.After(transporttest.HangGuard):
		d.Close()
		t.Fatalf("ReadFrame: no dropped frame within %v", transporttest.HangGuard)
		return nil
	}
}

func mustParse(t *testing.T, text string) transport.Spec {
	t.Helper()
	s, err := transport.ParseSpec(text)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", text, err)
	}
	return s
}
