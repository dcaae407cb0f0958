package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"
)

// payloadSeed makes every run send the same bytes, so the sha256 in the
// markers of two runs (and of both guests) can be compared.
var payloadSeed = [32]byte{'l', '2', 'g', 'u', 'e', 's', 't', ' ', 't', 'c', 'p'}

// payload returns n deterministic pseudo-random bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(payloadSeed).Read(b)
	return b
}

// checkTCP moves l2.bytes over one TCP connection and back: role a listens
// and echoes, role b dials the first peer, sends, and compares the SHA-256 of
// what it sent and what came back. Both sides print the hash they saw.
func checkTCP(ctx context.Context, e *env) (string, error) {
	switch e.cfg.Role {
	case "a":
		return tcpEcho(ctx, netip.AddrPortFrom(e.bind, e.ports.tcp))
	case "b":
		if len(e.cfg.Peers) == 0 {
			return "", errors.New("no peers (l2.peer=)")
		}
		return tcpSend(ctx, netip.AddrPortFrom(e.cfg.Peers[0], e.ports.tcp), e.cfg.Bytes)
	}
	return "", fmt.Errorf("l2.role=%s: tcp needs role a (echo) or b (send)", e.cfg.Role)
}

func tcpEcho(ctx context.Context, addr netip.AddrPort) (string, error) {
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	ln.SetDeadline(deadline(ctx))
	c, err := ln.AcceptTCP()
	if err != nil {
		return "", fmt.Errorf("accept: %w", err)
	}
	defer c.Close()
	c.SetDeadline(deadline(ctx))
	h := sha256.New()
	n, err := io.Copy(c, io.TeeReader(c, h))
	if err != nil {
		return "", fmt.Errorf("echo after %d bytes: %w", n, err)
	}
	if err := c.CloseWrite(); err != nil {
		return "", fmt.Errorf("close write: %w", err)
	}
	return fmt.Sprintf("echoed=%d sha256=%x", n, h.Sum(nil)), nil
}

func tcpSend(ctx context.Context, addr netip.AddrPort, n int) (string, error) {
	var c *net.TCPConn
	for {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp4", addr.String())
		if err == nil {
			c = conn.(*net.TCPConn)
			break
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("connect %s: %w", addr, err)
		}
		// The echo side may not listen yet: retry.
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer c.Close()
	c.SetDeadline(deadline(ctx))
	data := payload(n)
	want := sha256.Sum256(data)
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	h := sha256.New()
	got, err := io.Copy(h, c)
	if err2 := <-werr; err2 != nil {
		return "", fmt.Errorf("send: %w", err2)
	}
	if err != nil {
		return "", fmt.Errorf("read echo after %d bytes: %w", got, err)
	}
	if sum := h.Sum(nil); got != int64(n) || !bytes.Equal(sum, want[:]) {
		return "", fmt.Errorf("echo mismatch: got %d bytes sha256=%x, want %d bytes sha256=%x", got, sum, n, want)
	}
	return fmt.Sprintf("bytes=%d ms=%d sha256=%x", n, time.Since(start).Milliseconds(), want), nil
}

// udpSizes cross the MTU: 1473 and up need IP fragmentation.
var udpSizes = []int{1, 64, 512, 1472, 1473, 3000, 8000}

// checkUDP: role b sends datagrams of udpSizes to the first peer and wants
// each echoed intact (resending on loss); role a echoes until b says BYE.
func checkUDP(ctx context.Context, e *env) (string, error) {
	switch e.cfg.Role {
	case "a":
		return udpEcho(ctx, netip.AddrPortFrom(e.bind, e.ports.udp))
	case "b":
		if len(e.cfg.Peers) == 0 {
			return "", errors.New("no peers (l2.peer=)")
		}
		return udpSend(ctx, e.bind, netip.AddrPortFrom(e.cfg.Peers[0], e.ports.udp))
	}
	return "", fmt.Errorf("l2.role=%s: udp needs role a (echo) or b (send)", e.cfg.Role)
}

const udpBye = "BYE"

func udpEcho(ctx context.Context, addr netip.AddrPort) (string, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetReadDeadline(deadline(ctx))
	buf := make([]byte, 65536)
	echoed := 0
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return "", fmt.Errorf("echoed %d, then: %w", echoed, err)
		}
		if string(buf[:n]) == udpBye {
			return fmt.Sprintf("echoed=%d", echoed), nil
		}
		if _, err := conn.WriteToUDPAddrPort(buf[:n], src); err != nil {
			return "", fmt.Errorf("echo: %w", err)
		}
		echoed++
	}
}

func udpSend(ctx context.Context, bind netip.Addr, peer netip.AddrPort) (string, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(bind, 0)))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	buf := make([]byte, 65536)
	sends := 0
	for i, size := range udpSizes {
		msg := make([]byte, size)
		for j := range msg {
			msg[j] = byte(i*31 + j)
		}
		for {
			if ctx.Err() != nil {
				return "", fmt.Errorf("size %d not echoed after %d sends: %w", size, sends, ctx.Err())
			}
			sends++
			conn.WriteToUDPAddrPort(msg, peer) // a lost send is retried below
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err == nil && bytes.Equal(buf[:n], msg) {
				break
			}
		}
	}
	for range 3 {
		conn.WriteToUDPAddrPort([]byte(udpBye), peer)
	}
	return fmt.Sprintf("sizes=%d sends=%d", len(udpSizes), sends), nil
}
