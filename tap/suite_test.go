package tap_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"l2hub/tap"
	"l2hub/tap/taptest"
)

// The framing suite over every transport. Stream pairs come through the real
// runners, so accept and attach are exercised too.
func TestFraming(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   taptest.MakePair
	}{
		{"tcp", func(t *testing.T) *taptest.Pair { return streamPair(t, tap.TCP) }},
		{"unix", func(t *testing.T) *taptest.Pair { return streamPair(t, tap.Unix) }},
		{"tcp-dial", func(t *testing.T) *taptest.Pair { return streamPair(t, tap.TCPDial) }},
		{"unix-dial", func(t *testing.T) *taptest.Pair { return streamPair(t, tap.UnixDial) }},
		{"udp", udpPair},
		{"unixgram", unixgramPair},
		{"mcast", mcastPair},
		{"pipe", pipePair},
	} {
		t.Run(tc.name, func(t *testing.T) { taptest.TestFraming(t, tc.mk) })
	}
}

func TestStreamRunner(t *testing.T) {
	for _, tr := range []tap.Transport{tap.TCP, tap.Unix, tap.TCPDial, tap.UnixDial} {
		t.Run(string(tr), func(t *testing.T) { taptest.TestStreamRunner(t, tr) })
	}
}

// streamPair opens a runner for tr, connects a VM to it (or lets it dial a
// VM) and returns the attached hub end with the VM end.
func streamPair(t *testing.T, tr tap.Transport) *taptest.Pair {
	t.Helper()
	dir := t.TempDir()
	spec := tap.Spec{Name: "p", Transport: tr}
	network := "tcp"
	var vmLn net.Listener
	switch tr {
	case tap.TCP:
		spec.Address = "127.0.0.1:0"
	case tap.Unix:
		spec.Address, network = filepath.Join(dir, "hub.sock"), "unix"
	case tap.TCPDial, tap.UnixDial:
		addr := "127.0.0.1:0"
		if tr == tap.UnixDial {
			addr, network = filepath.Join(dir, "vm.sock"), "unix"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		vmLn, spec.Address = ln, ln.Addr().String()
	}
	r, err := spec.Open(tap.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	att := taptest.NewAttacher("p")
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
	vm := tap.NewStreamConn(raw, tap.MaxFrameLimit)
	t.Cleanup(func() {
		vm.Close()
		at.Drain()
		cancel()
		wg.Wait()
	})
	return &taptest.Pair{
		Hub: at.IO, VM: vm, MaxFrame: tap.DefaultMaxFrame,
		Stream: true, RawVM: func(b []byte) error { _, err := raw.Write(b); return err },
		EOF: true,
	}
}

// udpMax stays under the largest UDP payload over IPv4 (65507 bytes), so
// that a datagram one byte over the maximum can still be sent.
const udpMax = 60000

func udpPair(t *testing.T) *taptest.Pair {
	t.Helper()
	vmAddr := freeUDP(t)
	hubEnd, err := tap.ListenUDP("127.0.0.1:0", vmAddr, udpMax, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := tap.ListenUDP(vmAddr, hubEnd.LocalAddr().String(), tap.MaxFrameLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hubEnd.Close(); vm.Close(); stranger.Close() })
	return &taptest.Pair{
		Hub: hubEnd, VM: vm, MaxFrame: udpMax,
		RawVM:   vm.WriteFrame,
		Foreign: func(b []byte) error { _, err := stranger.WriteTo(b, hubEnd.LocalAddr()); return err },
	}
}

// freeUDP returns a loopback UDP address nothing is bound to.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func unixgramPair(t *testing.T) *taptest.Pair {
	t.Helper()
	dir := t.TempDir()
	hubPath, vmPath := filepath.Join(dir, "hub.sock"), filepath.Join(dir, "vm.sock")
	hubEnd, err := tap.ListenUnixgram(hubPath, vmPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := tap.ListenUnixgram(vmPath, hubPath, tap.MaxFrameLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "stranger.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hubEnd.Close(); vm.Close(); stranger.Close() })
	return &taptest.Pair{
		Hub: hubEnd, VM: vm, MaxFrame: tap.DefaultMaxFrame,
		RawVM: vm.WriteFrame,
		Foreign: func(b []byte) error {
			_, err := stranger.WriteToUnix(b, &net.UnixAddr{Name: hubPath, Net: "unixgram"})
			return err
		},
	}
}

// mcastGroup is the group QEMU's harness uses; each test gets its own port.
const mcastGroup = "230.0.0.1"

func mcastPair(t *testing.T) *taptest.Pair {
	t.Helper()
	hubEnd, err := tap.JoinMcast(mcastGroup+":0", "127.0.0.1", udpMax, 0)
	if err != nil {
		t.Skipf("multicast on loopback is not available here: %v", err)
	}
	vm, err := tap.JoinMcastLikeQEMU(hubEnd.LocalAddr().String(), "127.0.0.1", tap.MaxFrameLimit)
	if err != nil {
		hubEnd.Close()
		t.Skipf("multicast on loopback is not available here: %v", err)
	}
	t.Cleanup(func() { hubEnd.Close(); vm.Close() })
	if !mcastWorks(t, vm, hubEnd) {
		t.Skip("multicast on loopback does not deliver here (no route for 224.0.0.0/4 via lo?)")
	}
	return &taptest.Pair{Hub: hubEnd, VM: vm, MaxFrame: udpMax, RawVM: vm.WriteFrame, VMEcho: true}
}

// mcastWorks sends one frame from a QEMU-like member and checks that every
// member hears it, the sender included (its echo).
func mcastWorks(t *testing.T, sender *tap.DatagramConn, others ...*tap.DatagramConn) bool {
	t.Helper()
	probe := taptest.Frame(0x55, 60, 0)
	if err := sender.WriteFrame(probe); err != nil {
		t.Logf("multicast send: %v", err)
		return false
	}
	for _, m := range append([]*tap.DatagramConn{sender}, others...) {
		ch := make(chan bool, 1)
		go func() {
			buf := make([]byte, tap.MaxFrameLimit)
			n, err := m.ReadFrame(buf)
			ch <- err == nil && string(buf[:n]) == string(probe)
		}()
		select {
		case ok := <-ch:
			if !ok {
				return false
			}
		case <-time.After(2 * time.Second):
			m.Close()
			return false
		}
	}
	return true
}

func pipePair(t *testing.T) *taptest.Pair {
	a, b := tap.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &taptest.Pair{Hub: a, VM: b, MaxFrame: tap.DefaultMaxFrame, EOF: true}
}
