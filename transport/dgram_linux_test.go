//go:build linux

package transport_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// TestDatagramKernelDropsAreCounted: a datagram socket cannot push back, so
// what arrives while the hub does not read waits in the kernel's buffer and,
// past it, is dropped. Those drops must not be silent: every datagram sent
// is either read or reported by KernelDrops.
func TestDatagramKernelDropsAreCounted(t *testing.T) {
	h, vm := listenUDPPair(t, 0, 4<<10, 0) // a tiny buffer

	const sent = 200
	for i := range sent {
		if err := vm.WriteFrame(transporttest.Frame(0xb2, 1000, i)); err != nil {
			t.Fatal(err)
		}
	}
	// The datagrams that found room carry no drop count: nothing had been
	// dropped when they were queued. A probe sent once the hub has read
	// some carries the count of everything dropped before it.
	floods, probed := 0, false
	frames := make([]*hub.Frame, 16)
	for !probed {
		n, err := h.ReadFrames(frames, transport.DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames[:n] {
			if f.Len() == 1000 {
				floods++
			} else {
				probed = true
			}
		}
		hub.ReleaseAll(frames[:n])
		if err := vm.WriteFrame(transporttest.Frame(0xb2, 60, sent)); err != nil {
			t.Fatal(err)
		}
	}
	if floods == sent {
		t.Fatalf("read every datagram: the buffer was not small enough to test anything")
	}
	if got := uint64(floods) + h.KernelDrops(); got != sent {
		t.Errorf("read %d datagrams and the kernel reports %d dropped: %d, want the %d sent", floods, h.KernelDrops(), got, sent)
	}
}

// TestDatagramBatchRead: what has queued up arrives in one ReadFrames, and a
// bad datagram among good ones is reported on its own, without costing the
// good ones after it.
func TestDatagramBatchRead(t *testing.T) {
	h, vm := listenUDPPair(t, 1514, 0, transport.MaxFrameLimit)
	sizes := []int{60, 61, 62, 5, 63, 2000, 64}
	for i, n := range sizes {
		if err := vm.WriteFrame(transporttest.Frame(0xb2, n, i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	frames := make([]*hub.Frame, 16)
	want := []string{"60", "61", "62", "runt/5", "63", "oversize/2000", "64"}
	for len(got) < len(sizes) {
		n, ok, err := readFramesWithin(h, frames, 1514)
		if !ok {
			t.Fatalf("read %v, then nothing within %v; want %v", got, transporttest.HangGuard, want)
		}
		var fe *hub.FrameError
		switch {
		case errors.As(err, &fe):
			got = append(got, fmt.Sprintf("%s/%d", fe.Reason, fe.Len))
		case err != nil:
			t.Fatal(err)
		default:
			for _, f := range frames[:n] {
				got = append(got, fmt.Sprint(f.Len()))
			}
			hub.ReleaseAll(frames[:n])
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read %v, want %v", got, want)
	}
}

// readFramesWithin calls p.ReadFrames, and returns what it returned, or,
// should it not return within HangGuard (a guard against a hang, not a
// measure), closes p, waits for it and returns ok false.
func readFramesWithin(p hub.PortIO, frames []*hub.Frame, limit int) (n int, ok bool, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, err = p.ReadFrames(frames, limit)
	}()
	select {
	case <-done:
		return n, true, err
	case <-time.After(transporttest.HangGuard):
		p.Close()
		<-done
		hub.ReleaseAll(frames[:n])
		return 0, false, nil
	}
}

// TestDatagramKernelDropsAreCurrent: the drops of a burst that overflows
// the buffer happen after the last datagram that found room was queued, so
// no datagram the hub reads reports them. KernelDrops must report them when
// it is asked, before any later datagram arrives, and reading the datagrams
// that carry older counts must not move it back or double it. The kernel's
// own figure (/proc/net/udp's drops column, read before and after) bounds it.
func TestDatagramKernelDropsAreCurrent(t *testing.T) {
	h, vm := listenUDPPair(t, 0, 4<<10, 0) // a tiny buffer
	local := h.LocalAddr().(*net.UDPAddr)

	burstKernelDrops(t, h, local, func(i int) error { return vm.WriteFrame(transporttest.Frame(0xb3, 1000, i)) })
}

// kernelDropper is a port that reads datagrams and counts the kernel's
// drops of them: a udp or a vxlan port.
type kernelDropper interface {
	hub.PortIO
	hub.KernelDropper
}

// burstKernelDrops has send write 200 datagrams of 1000 bytes to h, whose
// socket (at local) has a buffer too small for them, and checks that
// KernelDrops counts the kernel's drops when asked (within the kernel's
// own figure, read before and after) before, while and after h reads what
// was queued, and keeps the count read at Close.
func burstKernelDrops(t *testing.T, h kernelDropper, local *net.UDPAddr, send func(i int) error) {
	t.Helper()
	for i := range 200 {
		if err := send(i); err != nil {
			t.Fatal(err)
		}
	}
	waitUDPSocket(t, local, "the kernel to drop part of the burst", func(s udpSocketState) bool { return s.drops > 0 })
	check := func(when string) {
		t.Helper()
		before := udpSocketOf(t, local).drops
		got := h.KernelDrops()
		after := udpSocketOf(t, local).drops
		if got < before || got > after {
			t.Errorf("%s: KernelDrops() = %d, want the kernel's count (%d..%d)", when, got, before, after)
		}
	}
	check("before reading")

	// Read what was queued: those datagrams report the count as it was
	// before the drops.
	frames := make([]*hub.Frame, 16)
	for udpSocketOf(t, local).rxQueue > 0 {
		n, err := h.ReadFrames(frames, transport.DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		hub.ReleaseAll(frames[:n])
		check("while reading")
	}
	check("after reading what was queued")

	// Closed, it reports the count it last read.
	want := h.KernelDrops()
	h.Close()
	if got := h.KernelDrops(); got != want {
		t.Errorf("after Close: KernelDrops() = %d, want %d, the count at Close", got, want)
	}
}

// udpSocketState is a UDP socket as /proc/net/udp shows it.
type udpSocketState struct {
	rxQueue uint64 // bytes queued for reading
	drops   uint64 // the kernel's drop count (sk_drops)
}

// udpSocketOf reads the IPv4 UDP socket bound to local from /proc/net/udp,
// skipping the test where the file is not there.
func udpSocketOf(t *testing.T, local *net.UDPAddr) udpSocketState {
	t.Helper()
	// The kernel lists sockets from the start of its table again at each
	// read(2), by position: while other tests open and close sockets, a
	// file read in pieces can miss one. So: one read, and a few tries.
	for range 5 {
		if st, ok := findUDPSocket(t, local); ok {
			return st
		}
	}
	t.Fatalf("/proc/net/udp has no socket bound to %s", local)
	return udpSocketState{}
}

func findUDPSocket(t *testing.T, local *net.UDPAddr) (udpSocketState, bool) {
	t.Helper()
	// The thread's own network namespace: /proc/net is the main thread's,
	// which a test that enters a namespace of its own may have taken there.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f, err := os.Open("/proc/thread-self/net/udp")
	if err != nil {
		t.Skipf("the kernel's own count is not readable: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	n, err := f.Read(buf)
	if err != nil {
		t.Fatalf("/proc/net/udp: %v", err)
	}
	ip := local.IP.To4()
	want := fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip), local.Port)
	for line := range strings.Lines(string(buf[:n])) {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
		// retrnsmt uid timeout inode ref pointer drops
		f := strings.Fields(line)
		if len(f) < 13 || f[1] != want {
			continue
		}
		_, rxq, _ := strings.Cut(f[4], ":")
		rx, err1 := strconv.ParseUint(rxq, 16, 64)
		drops, err2 := strconv.ParseUint(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("/proc/net/udp: %q: %v", line, err)
		}
		return udpSocketState{rxQueue: rx, drops: drops}, true
	}
	return udpSocketState{}, false
}

// waitUDPSocket waits until the socket bound to local satisfies ok.
func waitUDPSocket(t *testing.T, local *net.UDPAddr, what string, ok func(udpSocketState) bool) {
	t.Helper()
	deadline := time.Now().Add(transporttest.HangGuard)
	for !ok(udpSocketOf(t, local)) {
		if time.Now().After(deadline) {
			t.Fatalf("socket %s: waited %v for %s; /proc/net/udp shows %+v", local, transporttest.HangGuard, what, udpSocketOf(t, local))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHubCountsABurstTailDroppedByTheKernel: a udp port's sender is held
// back (its frames wait for a sink that does not read), its VM bursts into
// the socket past the buffer and then goes quiet. Once the sink reads again
// the hub reads what the socket held, and the port's kernel-overflow count
// reaches the kernel's own, with no later datagram to carry it.
func TestHubCountsABurstTailDroppedByTheKernel(t *testing.T) {
	vmAddr := freeUDPAddr(t)
	vm, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(vmAddr)))
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	lh := startHub(t, transport.Spec{Name: "u", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: vmAddr, Options: map[string]string{"sockbuf": "4K"}})
	if err := lh.h.AddPortWith("sink", "pipe", hub.PortOptions{QueueLen: 4, Stall: time.Hour}); err != nil {
		t.Fatal(err)
	}
	hubEnd, sink := transport.PipeWithCapacity(1)
	if _, err := lh.h.Attach("sink", hubEnd); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	local := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(lh.runners["u"].Spec().Address))

	// One frame at a time, each read by the hub, until the sink's queue
	// holds u back.
	for seq := 1; ; seq++ {
		if _, err := vm.WriteToUDP(broadcastOf(0xb4, 60, seq), local); err != nil {
			t.Fatal(err)
		}
		var paused bool
		lh.waitPort(t, "u", fmt.Sprintf("frame %d read or the port paused", seq), func(p hub.PortStatus) bool {
			paused = p.Flow.Paused
			return paused || p.Stats.RxFrames == uint64(seq)
		})
		if paused {
			break
		}
	}
	for i := range 200 {
		if _, err := vm.WriteToUDP(broadcastOf(0xb4, 1000, i), local); err != nil {
			t.Fatal(err)
		}
	}
	waitUDPSocket(t, local, "the kernel to drop part of the burst", func(s udpSocketState) bool { return s.drops > 0 })

	go func() { // the sink reads again: the hub resumes u
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			if _, err := hub.ReadFrame(sink, buf); err != nil && !errors.As(err, new(*hub.FrameError)) {
				return
			}
		}
	}()
	lh.waitPort(t, "u", "kernel-overflow counted as the kernel counts it", func(p hub.PortStatus) bool {
		return p.Stats.Drops[hub.DropKernel.String()] == udpSocketOf(t, local).drops
	})
}

// broadcastOf is a broadcast frame of size bytes from src, numbered seq.
func broadcastOf(src byte, size, seq int) []byte {
	f := transporttest.Frame(src, size, seq)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return f
}

// TestDatagramKernelDropsAllocatesNothing: the hub asks after every batch
// it reads, so reading the socket's count must not allocate.
func TestDatagramKernelDropsAllocatesNothing(t *testing.T) {
	h, err := transport.ListenUDP("127.0.0.1:0", freeUDPAddr(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := testing.AllocsPerRun(100, func() { h.KernelDrops() }); got != 0 {
		t.Errorf("got %v allocations per KernelDrops, want 0", got)
	}
}

// TestDatagramEgressLossIsInvisible: what a udp VM's own socket drops (its
// QEMU reads too slowly; here, not at all) is dropped after the hub's send
// succeeded: no counter of the port's moves. The README says so.
func TestDatagramEgressLossIsInvisible(t *testing.T) {
	vm, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	vm.SetReadBuffer(4 << 10)
	vmAddr := vm.LocalAddr().(*net.UDPAddr)
	lh := startHub(t, transport.Spec{Name: "u", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: vmAddr.String()}, transport.Spec{Name: "src"})
	a, src := transport.Pipe()
	if _, err := lh.h.Attach("src", a); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	lh.waitAttached(t, "u", 1)
	const sent = 200
	for i := range sent {
		if err := hub.WriteFrame(src, broadcastOf(0xb5, 1000, i)); err != nil {
			t.Fatal(err)
		}
	}
	waitUDPSocket(t, vmAddr, "the VM's kernel to drop what its socket cannot hold", func(s udpSocketState) bool { return s.drops > 0 })
	var st hub.PortStatus
	lh.waitPort(t, "u", "every frame sent", func(p hub.PortStatus) bool {
		st = p
		return p.Stats.TxFrames == sent && p.Queued == 0
	})
	if len(st.Stats.Drops) != 0 {
		t.Errorf("port u counts drops %v: the hub saw the VM's loss; the README says it cannot", st.Stats.Drops)
	}
	t.Logf("the hub sent %d frames; the VM's kernel dropped %d; the port counts no drop", sent, udpSocketOf(t, vmAddr).drops)

	readmeSays(t, "- **Datagram ports**", []string{"loss at a `udp` or `mcast` VM's own socket is invisible to the hub", "stream port", "`unixgram`"}, nil)
}

// TestVXLANKernelDropsAreCurrent is TestDatagramKernelDropsAreCurrent for
// a VXLAN port: the drops of a burst's tail, which no datagram read later
// reports, are in KernelDrops when it is asked, within the kernel's own
// figure, and the count read at Close stays.
func TestVXLANKernelDropsAreCurrent(t *testing.T) {
	ab := freeUDPAddrs(t, 2)
	pa, pb := ab[0], ab[1]
	open := func(local, remote string, buf int) *transport.VXLANConn {
		c, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42,
			Remotes: []netip.AddrPort{netip.MustParseAddrPort(remote)}, SocketBuffer: buf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	h, remote := open(pa, pb, 4<<10), open(pb, pa, 0) // h: a tiny buffer
	local := h.LocalAddr().(*net.UDPAddr)
	burstKernelDrops(t, h, local, func(i int) error { return hub.WriteFrame(remote, transporttest.Frame(0xb3, 1000, i)) })
}

// TestDatagramKernelDropsCountedAtClose: drops the kernel made after the
// last KernelDrops call are in the count KernelDrops reports after Close,
// which takes the socket's count a last time: a port closed right after a
// burst (its peer dropped, the hub stopping) reports the burst's tail.
func TestDatagramKernelDropsCountedAtClose(t *testing.T) {
	h, vm := listenUDPPair(t, 0, 4<<10, 0) // a tiny buffer
	kernelDropsAtClose(t, h, h.LocalAddr().(*net.UDPAddr), func(i int) error { return vm.WriteFrame(transporttest.Frame(0xb3, 1000, i)) })
}

// TestVXLANKernelDropsCountedAtClose is TestDatagramKernelDropsCountedAtClose
// for a VXLAN port.
func TestVXLANKernelDropsCountedAtClose(t *testing.T) {
	ab := freeUDPAddrs(t, 2)
	pa, pb := ab[0], ab[1]
	open := func(local, remote string, buf int) *transport.VXLANConn {
		c, err := transport.OpenVXLAN(transport.VXLANConfig{Local: netip.MustParseAddrPort(local), VNI: 42,
			Remotes: []netip.AddrPort{netip.MustParseAddrPort(remote)}, SocketBuffer: buf, Silence: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	h, remote := open(pa, pb, 4<<10), open(pb, pa, 0) // h: a tiny buffer
	kernelDropsAtClose(t, h, h.LocalAddr().(*net.UDPAddr), func(i int) error { return hub.WriteFrame(remote, transporttest.Frame(0xb3, 1000, i)) })
}

// kernelDropsAtClose has send write 200 datagrams of 1000 bytes to h, whose
// socket (at local) has a buffer too small for them, asks KernelDrops
// nothing until h is closed, and checks that it then reports at least the
// drops the kernel showed before Close.
func kernelDropsAtClose(t *testing.T, h kernelDropper, local *net.UDPAddr, send func(i int) error) {
	t.Helper()
	if got := h.KernelDrops(); got != 0 {
		t.Fatalf("got KernelDrops() = %d before any datagram, want 0", got)
	}
	for i := range 200 {
		if err := send(i); err != nil {
			t.Fatal(err)
		}
	}
	waitUDPSocket(t, local, "the kernel to drop part of the burst", func(s udpSocketState) bool { return s.drops > 0 })
	kernel := udpSocketOf(t, local).drops
	h.Close()
	if got := h.KernelDrops(); got < kernel {
		t.Errorf("after Close: got KernelDrops() = %d, want the kernel's count before Close, %d, or more", got, kernel)
	}
}

// TestUDPWriteOverUDPLimitIsOversize: a frame the port's max allows but
// no UDP datagram can carry (over 65507 bytes: DefaultMaxFrame is larger)
// fails with EMSGSIZE, and is counted oversize, not a write error. Both
// write paths (one datagram per call, and the batch) are held to it.
func TestUDPWriteOverUDPLimitIsOversize(t *testing.T) {
	h, _ := listenUDPPair(t, 0, 0, 0)
	f := transporttest.Frame(0xa1, 66000, 0)
	var fe *hub.FrameError
	if err := h.WriteFrame(f); !errors.As(err, &fe) || fe.Reason != hub.DropOversize || !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("got WriteFrame(%d bytes) = %v, want a *hub.FrameError with DropOversize, wrapping EMSGSIZE", len(f), err)
	}
	if n, err := h.WriteFrames(hubFrames(f)); n != 0 || !errors.As(err, &fe) || fe.Reason != hub.DropOversize || !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("got WriteFrames(%d bytes) = %d, %v; want 0 and a *hub.FrameError with DropOversize, wrapping EMSGSIZE", len(f), n, err)
	}
}
