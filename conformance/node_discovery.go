package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
)

// A node's discovery (nexus-wire.md §2): the announces it sends, to the
// group and to its peer, until a TCP connection exists, and those it reads
// into its peer cache (peerCache, discovery.go), which the pre-handshake
// identity check consults.

func udpAddr(a netip.Addr, port uint16) net.Addr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port))
}

// sourceAddr extracts the IPv4 source of a datagram.
func sourceAddr(a net.Addr) (netip.Addr, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ip := u.AddrPort().Addr().Unmap()
		return ip, ip.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}

// startAnnouncing sends a round of announces (each payload to the group,
// then to the peer) at once, as the OS's first pass does, and then every
// AnnounceInterval while no TCP connection exists, until ctx ends. round
// gives each round's payloads; it is called once per round sent, from one
// goroutine at a time.
func (n *Node) startAnnouncing(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup, round func() [][]byte) {
	group, peer := udpAddr(DiscoveryGroup, DiscoveryPort), udpAddr(n.cfg.Peer, DiscoveryPort)
	n.sendAnnounces(udp, round(), group, peer)
	wg.Go(func() {
		for n.wait(ctx, n.cfg.AnnounceInterval) == nil {
			n.announceMu.Lock()
			if !n.connected.Load() {
				n.sendAnnounces(udp, round(), group, peer)
			}
			n.announceMu.Unlock()
		}
	})
}

// every is a round of the same payloads each time.
func every(payloads ...[]byte) func() [][]byte {
	return func() [][]byte { return payloads }
}

func (n *Node) sendAnnounces(udp net.PacketConn, payloads [][]byte, dsts ...net.Addr) {
	failed := false
	for _, p := range payloads {
		for _, dst := range dsts {
			if _, err := udp.WriteTo(p, dst); err != nil {
				failed = true
				n.log.Debug("announce send failed", "to", dst.String(), "err", err)
			}
		}
	}
	n.st.announcesSent.Add(1)
	if failed {
		n.st.announceSendErrors.Add(1)
	}
	if n.announced.CompareAndSwap(false, true) {
		n.emit(MilestoneAnnounce, StatusOK, fmt.Sprintf("to=%v,%v", dsts[0], dsts[1]))
	}
}

// receiveAnnounces learns peers until the socket closes. Like the OS it
// reads at most 256 bytes of each datagram; datagrams above 512 bytes are
// dropped, as smoltcp's buffer would. A socket closed because the node
// stops (ctx ended, or the stack under it shut down first: EOF) is the end
// of the run, not a failure.
func (n *Node) receiveAnnounces(ctx context.Context, udp net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		nr, from, err := udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				n.log.Warn("discovery recv FAIL", "err", err)
			}
			return
		}
		if nr > DatagramDropThreshold {
			n.st.announcesDropped.Add(1)
			continue
		}
		ann, err := ParseReceivedAnnounce(buf[:nr])
		if err != nil {
			n.st.announcesMalformed.Add(1)
			n.log.Debug("announce ignored (malformed)", "from", from.String(), "err", err)
			continue
		}
		src, ok := sourceAddr(from)
		if !ok {
			continue
		}
		n.learn(ann, src)
	}
}

func (n *Node) learn(a Announce, src netip.Addr) {
	n.st.announcesLearned.Add(1)
	e := PeerEntry{DeviceID: a.DeviceID, Addr: src, Port: a.Port, Static: a.Static, Services: a.Services}
	if !n.peers.insert(e) || a.DeviceID != n.role.Peer().String() {
		return
	}
	st, detail := StatusOK, fmt.Sprintf("peer=%s addr=%v", a.DeviceID, netip.AddrPortFrom(src, a.Port))
	if a.Static != n.role.Peer().StaticKey().Public {
		st, detail = StatusFail, detail+" key=unpinned"
	}
	n.emit(MilestoneDiscovery, st, detail)
	n.learnOnce.Do(func() { close(n.learned) })
}

// checkIdentity is the OS's pre-handshake rule: a cached peer entry must
// carry the pinned key; no entry passes (NX-06).
func (n *Node) checkIdentity() error {
	e, ok := n.peers.peek(n.role.Peer().String())
	if ok && e.Static != n.role.Peer().StaticKey().Public {
		return ErrIdentityMismatch
	}
	return nil
}
