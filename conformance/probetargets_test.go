package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Targets that break the spec, for the probes to fail on.

// readFilterNet is a Net whose UDP sockets pass every datagram they read
// through keep, which may edit it in place or drop it (false).
type readFilterNet struct {
	Net
	keep func(b []byte) bool
}

func (f readFilterNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	pc, err := f.Net.ListenUDP(laddr)
	if err != nil {
		return nil, err
	}
	return &filteredPacketConn{PacketConn: pc, keep: f.keep}, nil
}

type filteredPacketConn struct {
	net.PacketConn
	keep func(b []byte) bool
}

func (p *filteredPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := p.PacketConn.ReadFrom(b)
		if err != nil || p.keep(b[:n]) {
			return n, from, err
		}
	}
}

// deafNodeA is a virtual node-a that reads no announce (it still sends its
// own, so a probe hears it).
func deafNodeA(m *memNet) Config {
	return Config{Role: RoleA, Net: readFilterNet{Net: m.host(addrA), keep: func([]byte) bool { return false }}}
}

// lenientNodeA is a virtual node-a whose decoder overlooks a wrong magic
// and version: it learns announces the OS rejects.
func lenientNodeA(m *memNet) Config {
	return Config{Role: RoleA, Net: readFilterNet{Net: m.host(addrA), keep: func(b []byte) bool {
		if len(b) >= 5 {
			copy(b, "NXSB\x01")
		}
		return true
	}}}
}

// parseWithoutCountBound decodes a datagram as ParseReceivedAnnounce does,
// but takes any service count: a node-a decoder without the bound of 16.
func parseWithoutCountBound(datagram []byte) (Announce, error) {
	b := datagram[:min(len(datagram), AnnounceRecvLimit)]
	if len(b) < 6 {
		return ParseAnnounce(b)
	}
	at := 6 + int(b[5]) + 2 + 32
	if len(b) <= at || b[at] <= MaxServices {
		return ParseAnnounce(b)
	}
	b = bytes.Clone(b)
	extra := int(b[at]) - MaxServices
	b[at] = MaxServices
	a, err := ParseAnnounce(b)
	if err != nil {
		return a, err
	}
	head, err := a.MarshalBinary()
	if err != nil {
		return a, err
	}
	r := cursor{b: b[len(head):]}
	for i := range extra {
		s, err := r.name("service name", MaxServiceNameLen)
		if err != nil {
			return a, fmt.Errorf("announce: service %d: %w", MaxServices+i, err)
		}
		a.Services = append(a.Services, s)
	}
	return a, nil
}

// startStandInNodeA runs a node-a that is not the OS's until ctx ends: it
// announces as node-a every 64 ms, learns node-b from each datagram it
// reads with parse (whole, as it arrives), dials the first node-b it
// learns and, with sendMsg1, sends it a msg1 whatever key it announced.
// The returned wait blocks until it has stopped.
func startStandInNodeA(ctx context.Context, m *memNet, parse func([]byte) (Announce, error), sendMsg1 bool) (wait func()) {
	h := m.host(addrA)
	udp, err := h.ListenUDP(netip.AddrPortFrom(addrA, DiscoveryPort))
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	targets := make(chan netip.AddrPort, 1)
	wg.Go(func() {
		<-ctx.Done()
		udp.Close()
	})
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			a, err := parse(buf[:n])
			src, ok := sourceAddr(from)
			if err != nil || !ok || a.DeviceID != RoleB.String() {
				continue
			}
			select {
			case targets <- netip.AddrPortFrom(src, a.Port):
			default:
			}
		}
	})
	wg.Go(func() {
		ann, _ := RoleA.Announce().MarshalBinary()
		tick := time.NewTicker(64 * time.Millisecond)
		defer tick.Stop()
		for {
			_, _ = udp.WriteTo(ann, udpAddr(addrB, DiscoveryPort))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case target := <-targets:
				c, err := h.DialTCP(ctx, netip.AddrPortFrom(addrA, DialPort(10)), target)
				if err != nil {
					continue
				}
				if sendMsg1 {
					msg1 := RoleA.EphemeralKey().Public
					_, _ = c.Write(msg1[:])
				}
				<-ctx.Done()
				c.Close()
				return
			}
		}
	})
	return wg.Wait
}

// acceptWrapNet is a Net whose accepted TCP connections are wrap's.
type acceptWrapNet struct {
	Net
	wrap func(net.Conn) net.Conn
}

func (w acceptWrapNet) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	ln, err := w.Net.ListenTCP(laddr)
	if err != nil {
		return nil, err
	}
	return wrapListener{ln, w.wrap}, nil
}

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// endingConn plays a node-b that ends the session once it has read left
// bytes: its reads then report the end of the stream, and closing it first
// takes drain more bytes (what a kernel's receive buffer would have taken
// of the peer's writes), then closes.
type endingConn struct {
	net.Conn
	left, drain int
}

func (c *endingConn) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(b[:min(len(b), c.left)])
	c.left -= n
	return n, err
}

func (c *endingConn) Close() error {
	_, _ = io.ReadFull(c.Conn, make([]byte, c.drain))
	return c.Conn.Close()
}

// stallingConn plays a node-b that stops serving once it has read left
// bytes, without ending the session (its proxy loop hung, or exited while
// the stack holds the socket): what the peer writes after that is taken,
// as a kernel's receive buffer would take it, and never delivered.
type stallingConn struct {
	net.Conn
	left int
}

func (c *stallingConn) Read(b []byte) (int, error) {
	if c.left <= 0 {
		for {
			if _, err := c.Conn.Read(b); err != nil {
				return 0, err
			}
		}
	}
	n, err := c.Conn.Read(b[:min(len(b), c.left)])
	c.left -= n
	return n, err
}

// afterLadder is what node-b reads from node-a up to the end of the mux
// ladder: msg1, msg3 and three ladder records.
const afterLadder = NexusMsg1Len + NexusMsg3Len + 3*RequestRecordLen

// endingNodeB is a virtual node-b that ends the session after the first
// record that follows the ladder, whatever it was, taking drain more bytes
// of node-a's before it closes.
func endingNodeB(m *memNet, drain int) Config {
	return Config{Role: RoleB, Net: acceptWrapNet{Net: m.host(addrB), wrap: func(c net.Conn) net.Conn {
		return &endingConn{Conn: c, left: afterLadder + RequestRecordLen, drain: drain}
	}}}
}

// stallingNodeB is a virtual node-b that stops serving, without ending the
// session, after the first record that follows the ladder.
func stallingNodeB(m *memNet) Config {
	return Config{Role: RoleB, Net: acceptWrapNet{Net: m.host(addrB), wrap: func(c net.Conn) net.Conn {
		return &stallingConn{Conn: c, left: afterLadder + RequestRecordLen}
	}}}
}

// startScriptedNodeB runs a node-b that is not the OS's until ctx ends: it
// takes node-a's fallback dial, handshake and ladder as node-b does, then
// hands each request record it reads to onRecord (p is nil for one that
// fails to open), until a read or onRecord fails. The returned wait blocks
// until it has stopped.
func startScriptedNodeB(ctx context.Context, m *memNet, onRecord func(n *Node, s *session, p []byte) error) (wait func()) {
	n, err := NewNode(Config{Role: RoleB, Net: m.host(addrB), Clock: bubbleClock})
	if err != nil {
		panic(err)
	}
	ln, err := n.cfg.Net.ListenTCP(netip.AddrPortFrom(addrB, SessionPortB))
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := n.acceptB(ctx, ln, 0)
		if err != nil {
			return
		}
		defer c.Close()
		s, err := n.establishB(ctx, c)
		if err != nil {
			return
		}
		var plain [RequestPlainLen]byte
		for {
			wire := s.rbuf[:RequestRecordLen]
			if err := n.readFull(ctx, c, wire, 0); err != nil {
				return
			}
			p, err := s.recv.Open(plain[:0], wire)
			if err != nil {
				p = nil
			}
			if err := onRecord(n, s, p); err != nil {
				return
			}
		}
	}()
	return func() { <-done }
}

// startNonceAdvancingNodeB runs a node-b that advances its receive nonce
// on a record that fails, which §5.1 forbids, and answers the records that
// open.
func startNonceAdvancingNodeB(ctx context.Context, m *memNet) (wait func()) {
	return startScriptedNodeB(ctx, m, func(n *Node, s *session, p []byte) error {
		if p == nil {
			n.st.recordsRejected.Add(1)
			s.recv.SetNonce(s.recv.Nonce() + 1)
			return nil
		}
		return n.answer(ctx, s, GateRequest(p))
	})
}

// startMisDenyingNodeB runs a node-b that answers the requests its gate
// forwards as node-b does, but answers those it must deny with status and
// payload instead of status 1 and nothing, and those it must drop with
// status 1, written once it has read node-a's next request (memNet's
// pipes do not buffer: node-a writes that request before it reads).
func startMisDenyingNodeB(ctx context.Context, m *memNet, status byte, payload []byte) (wait func()) {
	dropped := false
	return startScriptedNodeB(ctx, m, func(n *Node, s *session, p []byte) error {
		if p == nil {
			return nil
		}
		if dropped {
			dropped = false
			if err := n.writeRecord(ctx, s, ResponseRecord, ProxyStatusFail, nil); err != nil {
				return err
			}
		}
		switch d := GateRequest(p); d.Action {
		case GateDeny:
			return n.writeRecord(ctx, s, ResponseRecord, status, payload)
		case GateDrop:
			dropped = true
			return nil
		default:
			return n.answer(ctx, s, d)
		}
	})
}

// startMsg1TakingNodeB runs a node-b that accepts one connection on its
// session port, reads a msg1's worth and hands the connection to then,
// which returns when it is done with it.
func startMsg1TakingNodeB(ctx context.Context, m *memNet, then func(c net.Conn)) (wait func()) {
	ln, err := m.host(addrB).ListenTCP(netip.AddrPortFrom(addrB, SessionPortB))
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, NexusMsg1Len)); err == nil {
			then(c)
		}
	}()
	return func() { <-done }
}
