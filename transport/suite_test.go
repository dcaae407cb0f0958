package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// The framing suite over every transport. Stream pairs come through the real
// runners, so accept and attach are exercised too.
func TestFraming(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   transporttest.MakePair
	}{
		{"tcp", func(t *testing.T) *transporttest.Pair { return streamPair(t, transport.TCP) }},
		{"unix", func(t *testing.T) *transporttest.Pair { return streamPair(t, transport.Unix) }},
		{"tcp-dial", func(t *testing.T) *transporttest.Pair { return streamPair(t, transport.TCPDial) }},
		{"unix-dial", func(t *testing.T) *transporttest.Pair { return streamPair(t, transport.UnixDial) }},
		{"udp", udpPair},
		{"unixgram", unixgramPair},
		{"mcast", mcastPair},
		{"pipe", pipePair},
	} {
		t.Run(tc.name, func(t *testing.T) { transporttest.TestFraming(t, tc.mk) })
	}
}

func TestStreamRunner(t *testing.T) {
	for _, tr := range []transport.Transport{transport.TCP, transport.Unix, transport.TCPDial, transport.UnixDial} {
		t.Run(string(tr), func(t *testing.T) { transporttest.TestStreamRunner(t, tr) })
	}
}

// streamPair opens a runner for tr, connects a VM to it (or lets it dial a
// VM) and returns the attached hub end with the VM end.
func streamPair(t *testing.T, tr transport.Transport) *transporttest.Pair {
	t.Helper()
	dir := t.TempDir()
	spec := transport.Spec{Name: "p", Transport: tr}
	network := "tcp"
	var vmLn net.Listener
	switch tr {
	case transport.TCP:
		spec.Address = "127.0.0.1:0"
	case transport.Unix:
		spec.Address, network = filepath.Join(dir, "hub.sock"), "unix"
	case transport.TCPDial, transport.UnixDial:
		addr := "127.0.0.1:0"
		if tr == transport.UnixDial {
			addr, network = filepath.Join(dir, "vm.sock"), "unix"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		vmLn, spec.Address = ln, ln.Addr().String()
	}
	r, err := spec.Open(transport.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	att := transporttest.NewAttacher("p")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx, att); err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	var raw net.Conn
	if vmLn != nil {
		raw, err = vmLn.Accept()
	} else {
		raw, err = net.Dial(network, r.Spec().Address)
	}
	if err != nil {
		t.Fatal(err)
	}
	at := att.Next(t)
	vm := transport.NewStreamConn(raw, transport.MaxFrameLimit)
	t.Cleanup(func() {
		vm.Close()
		at.Drain()
		cancel()
		wg.Wait()
	})
	return &transporttest.Pair{
		Hub: at.IO, VM: vm, MaxFrame: transport.DefaultMaxFrame,
		Stream: true, RawVM: func(b []byte) error { _, err := raw.Write(b); return err },
		EOF: true,
	}
}

// udpMax stays under the largest UDP payload over IPv4 (65507 bytes), so
// that a datagram one byte over the maximum can still be sent.
const udpMax = 60000

func udpPair(t *testing.T) *transporttest.Pair {
	t.Helper()
	hubEnd, vm := listenUDPPair(t, udpMax, 0, transport.MaxFrameLimit)
	stranger, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Close() })
	return &transporttest.Pair{
		Hub: hubEnd, VM: vm, MaxFrame: udpMax,
		RawVM:   vm.WriteFrame,
		Foreign: func(b []byte) error { _, err := stranger.WriteTo(b, hubEnd.LocalAddr()); return err },
	}
}

// listenUDPPair binds a udp port's two ends on loopback, each naming the
// other: the hub's at any free port with frames up to hubMax and a socket
// buffer of hubBuf (0: the default), the VM's with frames up to vmMax. Both
// close when the test ends. The VM's address is picked free first, and
// another test's socket may take it before the VM binds it (tests run in
// parallel across packages): then it picks again.
func listenUDPPair(t *testing.T, hubMax, hubBuf, vmMax int) (hubEnd, vm *transport.DatagramConn) {
	t.Helper()
	for try := 0; ; try++ {
		vmAddr := freeUDPAddr(t)
		var err error
		if hubEnd, err = transport.ListenUDP("127.0.0.1:0", vmAddr, hubMax, hubBuf); err != nil {
			t.Fatal(err)
		}
		vm, err = transport.ListenUDP(vmAddr, hubEnd.LocalAddr().String(), vmMax, 0)
		if err == nil {
			break
		}
		hubEnd.Close()
		if !errors.Is(err, syscall.EADDRINUSE) || try == 9 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { hubEnd.Close(); vm.Close() })
	return hubEnd, vm
}

func unixgramPair(t *testing.T) *transporttest.Pair {
	t.Helper()
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	hubEnd, err := transport.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := transport.ListenUnixgram(vmPath, hubPath, transport.MaxFrameLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "stranger.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Close() })
	return &transporttest.Pair{
		Hub: hubEnd, VM: vm, MaxFrame: transport.DefaultMaxFrame,
		RawVM: vm.WriteFrame,
		Foreign: func(b []byte) error {
			_, err := stranger.WriteToUnix(b, &net.UnixAddr{Name: hubPath, Net: "unixgram"})
			return err
		},
	}
}

// mcastGroup is the group QEMU's harness uses; each test gets its own port.
const mcastGroup = "230.0.0.1"

func mcastPair(t *testing.T) *transporttest.Pair {
	t.Helper()
	needMulticast(t)
	hubEnd, err := transport.JoinMcast(mcastGroup+":0", "127.0.0.1", udpMax, 0)
	if err != nil {
		t.Fatalf("JoinMcast on a host whose loopback carries multicast: %v", err)
	}
	vm, err := transport.JoinMcastLikeQEMU(hubEnd.LocalAddr().String(), "127.0.0.1", transport.MaxFrameLimit)
	if err != nil {
		hubEnd.Close()
		t.Fatalf("JoinMcastLikeQEMU on a host whose loopback carries multicast: %v", err)
	}
	t.Cleanup(func() { hubEnd.Close(); vm.Close() })
	mcastWorks(t, vm, hubEnd)
	return &transporttest.Pair{Hub: hubEnd, VM: vm, MaxFrame: udpMax, RawVM: vm.WriteFrame, VMEcho: true}
}

// mcastWorks sends one frame from a QEMU-like member and fails t unless
// every member hears it, the sender included (its echo).
func mcastWorks(t *testing.T, sender *transport.DatagramConn, others ...*transport.DatagramConn) {
	t.Helper()
	probe := transporttest.Frame(0x55, 60, 0)
	if err := sender.WriteFrame(probe); err != nil {
		t.Fatalf("multicast send: %v", err)
	}
	for i, m := range append([]*transport.DatagramConn{sender}, others...) {
		ch := make(chan error, 1)
		go func() {
			buf := make([]byte, transport.MaxFrameLimit)
			n, err := m.ReadFrame(buf)
			if err == nil && string(buf[:n]) != string(probe) {
				err = fmt.Errorf("read %x, want the probe %x", buf[:n], probe)
			}
			ch <- err
		}()
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("member %d of the group (0: the sender): %v", i, err)
			}
		case <-time.After(time.Minute): // a hang guard: loopback delivers at once
			m.Close()
			t.Fatalf("member %d of the group (0: the sender) heard nothing of the probe", i)
		}
	}
}

func pipePair(t *testing.T) *transporttest.Pair {
	a, b := transport.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &transporttest.Pair{Hub: a, VM: b, MaxFrame: transport.DefaultMaxFrame, EOF: true}
}
