package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"l2hub/conformance"
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
		for _, c := range conns {
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
