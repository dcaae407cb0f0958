package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/internal/syncbuf"
	"l2hub/internal/wallclock"
)

// TestKernelNet checks the conformance.Net adapter on loopback: a listener,
// a dial from a chosen local address, and a UDP socket bound as the node
// binds its discovery socket.
func TestKernelNet(t *testing.T) {
	var kn kernelNet
	ln, err := kn.ListenTCP(netip.MustParseAddrPort("127.0.0.11:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte(c.RemoteAddr().String()))
			c.Close()
		}
	}()
	c, err := kn.DialTCP(ctx, netip.MustParseAddrPort("127.0.0.10:0"), netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := netip.MustParseAddrPort(string(b)).Addr(); got != netip.MustParseAddr("127.0.0.10") {
		t.Errorf("got peer address %v seen by the listener, want 127.0.0.10 (DialTCP's laddr)", got)
	}
	u, err := kn.ListenUDP(netip.MustParseAddrPort("127.0.0.10:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got := netip.MustParseAddrPort(u.LocalAddr().String()).Addr(); got != netip.MustParseAddr("127.0.0.10") {
		t.Errorf("got UDP bound to %v, want 127.0.0.10", got)
	}
}

func TestNexusRole(t *testing.T) {
	e := &env{cfg: DefaultConfig(), console: &console{w: io.Discard}}
	e.cfg.Role = "x" // ParseCmdline refuses it; the check must too
	if _, err := checkNexus(context.Background(), e); err == nil {
		t.Error("got nil error for l2.role=x, want one")
	}
}

// TestKernelNetRedialsFromItsPort runs node-a on kernel sockets against a
// listener that accepts and never answers: every attempt ends in node-a's
// reply timeout with node-a closing first, and each redial must come from
// the same 127.0.0.10:40010 (the OS's 40000 + mac[5], §6.1, with 127.0.0.10
// standing in for 10.42.0.10). A graceful close would leave that 4-tuple in
// FIN_WAIT or TIME_WAIT and the redial could not bind it.
func TestKernelNetRedialsFromItsPort(t *testing.T) {
	self, peer := netip.MustParseAddr("127.0.0.10"), netip.MustParseAddr("127.0.0.11")
	var kn kernelNet
	ln, err := kn.ListenTCP(netip.AddrPortFrom(peer, conformance.SessionPortB))
	if err != nil {
		t.Skipf("cannot listen on %v: %v", netip.AddrPortFrom(peer, conformance.SessionPortB), err)
	}
	defer ln.Close()
	node, err := conformance.NewNode(conformance.Config{
		Role: conformance.RoleA, Net: kn, Clock: wallclock.Clock{}, Addr: self, Peer: peer,
		DiscoveryWait: -1, ReplyTimeout: 200 * time.Millisecond, RetryInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- node.Run(ctx) }()
	want := netip.AddrPortFrom(self, 40010)
	var conns []net.Conn
	defer func() {
		// Reset, not close: a close would leave the 4-tuple in TIME_WAIT
		// on this side for a minute, and a rerun (go test -count=2)
		// could not connect from 127.0.0.10:40010 again.
		for _, c := range conns {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for len(conns) < 3 {
		select {
		case c, ok := <-accepted:
			if !ok {
				t.Fatal("accept failed")
			}
			conns = append(conns, c) // held open and silent
			if got := netip.MustParseAddrPort(c.RemoteAddr().String()); got != want {
				t.Errorf("connection %d from %v, want %v", len(conns), got, want)
			}
		case <-ctx.Done():
			t.Fatalf("%d connections accepted in 20s, want 3 (node-a stats %+v)", len(conns), node.Stats())
		}
	}
	// Each failed attempt was aborted: a RST, not a FIN. On loopback
	// Linux lets a connect reuse a TIME_WAIT 4-tuple (tcp_tw_reuse=2), so
	// the redials above would succeed after a graceful close too; on the
	// guest's NIC they would not.
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(conns[0]); len(b) != conformance.NexusMsg1Len || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the first, failed attempt carried %d bytes and ended with %v, want msg1 (%d) and a reset (node-a aborts a failed dial, §6.2)",
			len(b), err, conformance.NexusMsg1Len)
	}
	cancel()
	if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("node-a Run: %v", err)
	}
}

// TestNexusNodeBFailsAtOnce: a guest node-b whose handshake fails prints
// its "nexus FAIL" marker, with the handshake's error, at once, not at
// l2.timeout: node-b accepts one connection per boot (§6.2), so nothing
// can follow, and labs classify node-b's failure by that marker.
func TestNexusNodeBFailsAtOnce(t *testing.T) {
	self, peer := netip.MustParseAddr("127.0.3.11"), netip.MustParseAddr("127.0.3.10")
	target := netip.AddrPortFrom(self, conformance.SessionPortB)
	if ln, err := net.Listen("tcp4", target.String()); err != nil {
		t.Skipf("cannot listen on %v: %v", target, err)
	} else {
		ln.Close()
	}
	out := &syncbuf.Buffer{}
	e := &env{cfg: DefaultConfig(), self: self, console: &console{w: out}}
	e.cfg.Role, e.cfg.Peers = "node-b", []netip.Addr{peer}
	e.cfg.Timeout = time.Hour // the check must not need it
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan bool, 1)
	go func() { done <- runOne(ctx, e, "nexus") }()

	// Connect once node-b listens, then close: its handshake fails at
	// msg1.
	guard := time.After(30 * time.Second)
	for {
		c, err := net.Dial("tcp4", target.String())
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-guard:
			t.Fatalf("node-b never listened on %v: %v\n%s", target, err, out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case ok := <-done:
		if ok {
			t.Errorf("got the check passed, want it failed:\n%s", out)
		}
		if got := out.String(); !strings.Contains(got, "GUEST: nexus FAIL node-b: session: ") {
			t.Errorf("got markers\n%s\nwant a \"GUEST: nexus FAIL node-b: session: \" line with the handshake's error", got)
		}
	case <-guard:
		cancel()
		<-done
		t.Fatalf("the check was still running 30s after node-b's handshake failed, want it to end at the failure:\n%s", out)
	}
}
