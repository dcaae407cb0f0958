package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The two honest scripts Run plays. node-a dials from its fixed port (to
// the node-b it discovered, or the fallback), redials until a session
// exists and sends its proxy requests; node-b accepts its one connection
// (§6.2) and answers requests through its gate until the peer closes.

// --- node-a ---

// dialTarget is node-a's choice: the cached node-b entry (source IP and
// announced port), else the hard-coded fallback.
func (n *Node) dialTarget() (netip.AddrPort, string) {
	if e, ok := n.peers.peek(n.role.Peer().String()); ok {
		return netip.AddrPortFrom(e.Addr, e.Port), "discovery"
	}
	return netip.AddrPortFrom(n.cfg.Peer, SessionPortB), "fallback"
}

// waitDiscovery holds node-a's first dial until node-b is learned or
// DiscoveryWait passes.
func (n *Node) waitDiscovery(ctx context.Context) error {
	if n.cfg.DiscoveryWait < 0 {
		return nil
	}
	after, stop := n.after(n.cfg.DiscoveryWait)
	defer stop()
	select {
	case <-n.learned:
		return nil
	case <-after:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial makes one connection attempt to node-a's current target, from
// node-a's fixed source port (§6.1). Until keep marks the attempt a
// session, closing the connection aborts it, so that the next dial can
// reuse the 4-tuple at once, as the OS's redial does (§6.2).
func (n *Node) dial(ctx context.Context) (net.Conn, string, error) {
	target, via := n.dialTarget()
	n.st.dials.Add(1)
	n.announceMu.Lock() // after a round sending now, and none until this fails
	n.connected.Store(true)
	n.announceMu.Unlock()
	c, err := n.cfg.Net.DialTCP(ctx, netip.AddrPortFrom(n.cfg.Addr, n.cfg.DialPort), target)
	if err != nil {
		n.connected.Store(false)
		n.st.dialFailures.Add(1)
		n.log.Debug("dial failed", "target", target.String(), "via", via, "err", err)
		return nil, via, err
	}
	setLinger(c, 0, n.log)
	return c, via + " target=" + target.String(), nil
}

// keep ends the abort-on-close of a dialled connection that became a
// session: its eventual close is graceful, so node-b reads an end of
// stream rather than a reset.
func (n *Node) keep(c net.Conn) { setLinger(c, -1, n.log) }

func setLinger(c net.Conn, sec int, log *slog.Logger) {
	if l, ok := c.(Linger); ok {
		if err := l.SetLinger(sec); err != nil {
			log.Debug("set linger failed", "sec", sec, "err", err)
		}
	}
}

// connectA dials and handshakes until a session exists or ctx ends.
func (n *Node) connectA(ctx context.Context) (*session, error) {
	if err := n.waitDiscovery(ctx); err != nil {
		return nil, err
	}
	for {
		c, via, err := n.dial(ctx)
		if err == nil {
			s, err := n.initiate(ctx, c)
			if err == nil {
				n.keep(c)
				n.emit(MilestoneSession, StatusOK, fmt.Sprintf("peer=%v via=%s", n.role.Peer(), via))
				return s, nil
			}
			c.Close()
			n.connected.Store(false)
			n.sessionFailed(ctx, err)
		}
		if err := n.wait(ctx, n.cfg.RetryInterval); err != nil {
			return nil, err
		}
	}
}

func (n *Node) playA(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return fmt.Errorf("%v: %w", n.role, err)
	}
	defer s.conn.Close()
	for _, req := range n.cfg.Requests {
		if _, err := n.request(ctx, s, req); err != nil {
			return fmt.Errorf("%v: %w", n.role, err)
		}
	}
	if n.cfg.Hold {
		<-ctx.Done()
	}
	return nil
}

// establishA is node-a up to the end of the ladder: announce, connect and
// handshake (with retries), then the six ladder steps.
func (n *Node) establishA(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) (*session, error) {
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	s, err := n.connectA(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if err := n.ladder(ctx, s); err != nil {
		s.conn.Close()
		return nil, err
	}
	return s, nil
}

// request sends one proxy request, reads the response and applies node-a's
// verdict, reporting a proxy milestone either way (but no failure when the
// node's stop cut the exchange short).
func (n *Node) request(ctx context.Context, s *session, req ProxyRequest) (Record, error) {
	svc := "service=" + ServiceName(req.Service)
	if err := n.writeRecord(ctx, s, RequestRecord, req.Service, req.Payload); err != nil {
		return Record{}, fmt.Errorf("proxy %s: %w", svc, err)
	}
	rsp, err := n.readRecord(ctx, s, ResponseRecord, n.cfg.ReplyTimeout)
	if err == nil {
		err = CheckProxyResponse(req.Service, rsp)
	}
	if err != nil {
		if !stoppedBy(ctx, err) {
			n.emit(MilestoneProxy, StatusFail, fmt.Sprintf("%s err=%q", svc, err.Error()))
		}
		return rsp, fmt.Errorf("proxy %s: %w", svc, err)
	}
	n.emit(MilestoneProxy, StatusOK, svc)
	return rsp, nil
}

// --- node-b ---

// acceptB accepts node-b's single connection on ln and closes ln: the OS's
// listening socket becomes the connection and is never re-armed (§6.2).
func (n *Node) acceptB(ctx context.Context, ln net.Listener, d time.Duration) (net.Conn, error) {
	var c net.Conn
	err := n.within(ctx, ln, d, func() error {
		var err error
		c, err = ln.Accept()
		return err
	})
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	n.connected.Store(true)
	return c, nil
}

// playB is the honest node-b.
func (n *Node) playB(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	ln, err := n.cfg.Net.ListenTCP(netip.AddrPortFrom(n.cfg.Addr, SessionPortB))
	if err != nil {
		return fmt.Errorf("%v: session: %w", n.role, err)
	}
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	c, err := n.acceptB(ctx, ln, 0)
	if err != nil {
		return fmt.Errorf("%v: session: %w", n.role, err)
	}
	return n.serveB(ctx, c)
}

// serveB runs node-b's side of a session on an accepted connection: one
// attempt only, since no second connection can ever arrive. After a failed
// handshake node-b closes the connection and re-enters its setup loop, so
// its announces resume (§2.2, §4.5), but its listener is gone for good
// (§6.2): it announces, unreachable, until ctx ends, and then returns the
// handshake's error. A failed ladder stops dsoftbusd, announces included.
func (n *Node) serveB(ctx context.Context, c net.Conn) error {
	defer c.Close()
	s, err := n.establishB(ctx, c)
	if err != nil {
		if s == nil && !errors.Is(err, ErrLadder) && !stoppedBy(ctx, err) {
			c.Close()
			n.connected.Store(false)
			// Info, not Debug: the milestone says the handshake failed,
			// not that no dial can reach node-b again.
			n.log.Info("handshake failed: node-b announces again but accepts no connection until restarted (§2.2, §6.2)", "err", err)
			<-ctx.Done()
		}
		return err
	}
	return n.serveProxy(ctx, s)
}

// establishB is node-b on an accepted connection up to the end of the
// ladder: the handshake, then the six ladder steps.
func (n *Node) establishB(ctx context.Context, c net.Conn) (*session, error) {
	s, err := n.respond(ctx, c)
	if err != nil {
		n.sessionFailed(ctx, err)
		return nil, fmt.Errorf("%v: session: %w", n.role, err)
	}
	if err := n.ladder(ctx, s); err != nil {
		return nil, fmt.Errorf("%v: %w", n.role, err)
	}
	return s, nil
}

// serveProxy answers requests until the peer closes (nil) or ctx ends.
func (n *Node) serveProxy(ctx context.Context, s *session) error {
	var plain [RequestPlainLen]byte
	for {
		wire := s.rbuf[:RequestRecordLen]
		if err := n.readFull(ctx, s.conn, wire, 0); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%v: proxy: %w", n.role, err)
		}
		p, err := s.recv.Open(plain[:0], wire)
		if err != nil {
			// A bad tag is skipped silently; the nonce stays (§5.1).
			n.st.recordsRejected.Add(1)
			n.log.Debug("record skipped", "err", err)
			continue
		}
		if err := n.answer(ctx, s, GateRequest(p)); err != nil {
			return fmt.Errorf("%v: proxy: %w", n.role, err)
		}
	}
}

func (n *Node) answer(ctx context.Context, s *session, d GateDecision) error {
	var status byte
	var reply []byte
	switch d.Action {
	case GateDrop:
		n.st.proxyDropped.Add(1)
		n.emit(MilestoneProxy, StatusDenied, d.Why)
		return nil
	case GateDeny:
		n.st.proxyDenied.Add(1)
		status = ProxyStatusFail
		n.emit(MilestoneProxy, StatusDenied, d.Why)
	case GateForward:
		n.st.proxyServed.Add(1)
		var ok bool
		if reply, ok = n.cfg.Backend.Serve(d.Service, d.Payload); !ok {
			status, reply = ProxyStatusFail, nil
		}
		reply = reply[:min(len(reply), MaxResponsePayload)]
		n.emit(MilestoneProxy, StatusOK, d.Why)
	}
	return n.writeRecord(ctx, s, ResponseRecord, status, reply)
}
