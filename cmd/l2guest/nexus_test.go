package main

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"
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
