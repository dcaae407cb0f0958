package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Gossip timing: a message every gossipEvery, and once done, keep talking for
// gossipLinger so the slowest peer hears our "all=1" too (five more sends).
const (
	gossipEvery  = 100 * time.Millisecond
	gossipLinger = 500 * time.Millisecond
)

// gossip is a symmetric rendezvous that every guest runs at once. Each sends
// "l2guest KIND from=SELF all=0|1" to dsts every 100 ms, where all=1 says "I
// have heard every peer I expect". A guest is done when it has heard every
// peer and each of them has said all=1; it then lingers, still sending, so
// that peers which have not yet seen its all=1 finish too. Delivery of KIND's
// datagrams (multicast, broadcast or unicast) is thus proven both ways.
func gossip(ctx context.Context, kind string, self netip.Addr, peers []netip.Addr, conn *net.UDPConn, dsts []netip.AddrPort) (string, error) {
	if len(peers) == 0 {
		return "", errors.New("no peers (l2.peer=)")
	}
	heard := map[netip.Addr]bool{} // peer -> it said all=1
	var doneAt time.Time
	var sendErr error
	buf := make([]byte, 512)
	for {
		if err := ctx.Err(); err != nil {
			if sendErr != nil {
				return "", fmt.Errorf("%s: %w (last %v)", gossipState(peers, heard), err, sendErr)
			}
			return "", fmt.Errorf("%s: %w", gossipState(peers, heard), err)
		}
		all := len(heard) == len(peers)
		msg := fmt.Sprintf("l2guest %s from=%s all=%d", kind, self, b2i(all))
		for _, d := range dsts {
			// A send can fail while the peer's ARP entry is unresolved;
			// the next round retries, and the deadline bounds it.
			if _, err := conn.WriteToUDPAddrPort([]byte(msg), d); err != nil {
				sendErr = fmt.Errorf("send to %s: %w", d, err)
			}
		}
		tick := time.Now().Add(gossipEvery)
		for {
			conn.SetReadDeadline(tick)
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				break // the tick: send again
			}
			from, peerAll, ok := parseGossip(buf[:n], kind)
			if !ok || from == self || !slices.Contains(peers, from) {
				continue
			}
			heard[from] = heard[from] || peerAll
		}
		if len(heard) == len(peers) && allTrue(heard) {
			if doneAt.IsZero() {
				doneAt = time.Now()
			}
			if time.Since(doneAt) >= gossipLinger {
				return "peers=" + joinAddrs(peers), nil
			}
		}
	}
}

// parseGossip reads "l2guest KIND from=IP all=0|1".
func parseGossip(b []byte, kind string) (from netip.Addr, all, ok bool) {
	f := strings.Fields(string(b))
	if len(f) != 4 || f[0] != "l2guest" || f[1] != kind {
		return netip.Addr{}, false, false
	}
	ip, found := strings.CutPrefix(f[2], "from=")
	if !found {
		return netip.Addr{}, false, false
	}
	from, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}, false, false
	}
	switch f[3] {
	case "all=0":
		return from, false, true
	case "all=1":
		return from, true, true
	}
	return netip.Addr{}, false, false
}

// gossipState says who was missing when a gossip gave up.
func gossipState(peers []netip.Addr, heard map[netip.Addr]bool) string {
	var silent, waiting []string
	for _, p := range peers {
		all, ok := heard[p]
		switch {
		case !ok:
			silent = append(silent, p.String())
		case !all:
			waiting = append(waiting, p.String())
		}
	}
	if len(silent) == 0 && len(waiting) == 0 {
		return "all peers done"
	}
	return fmt.Sprintf("not heard from [%s], not yet heard all [%s]", strings.Join(silent, " "), strings.Join(waiting, " "))
}

func allTrue(m map[netip.Addr]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// checkMcast proves IPv4 multicast both ways: every guest joins the group on
// the NIC and gossips to it.
func checkMcast(ctx context.Context, e *env) (string, error) {
	ifi, err := net.InterfaceByName(e.cfg.Dev)
	if err != nil {
		return "", err
	}
	group := e.ports.mcast
	// Joins on ifi, sends out of ifi, and turns IP_MULTICAST_LOOP off.
	conn, err := net.ListenMulticastUDP("udp4", ifi, net.UDPAddrFromAddrPort(group))
	if err != nil {
		return "", fmt.Errorf("join %s: %w", group, err)
	}
	defer conn.Close()
	detail, err := gossip(ctx, "mcast", e.self, e.cfg.Peers, conn, []netip.AddrPort{group})
	if err != nil {
		return "", err
	}
	return detail + " group=" + group.String(), nil
}

// checkBcast proves limited broadcast (255.255.255.255) both ways.
func checkBcast(ctx context.Context, e *env) (string, error) {
	// Broadcasts arrive only at sockets bound to the unspecified address.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: int(e.ports.bcast)}) // Go sets SO_BROADCAST
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), e.ports.bcast)
	return gossip(ctx, "bcast", e.self, e.cfg.Peers, conn, []netip.AddrPort{dst})
}

// checkSync is the closing barrier: unicast gossip with every peer, so that
// no guest powers off while another still needs it.
func checkSync(ctx context.Context, e *env) (string, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.bind, e.ports.sync)))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dsts := make([]netip.AddrPort, len(e.cfg.Peers))
	for i, p := range e.cfg.Peers {
		dsts[i] = netip.AddrPortFrom(p, e.ports.sync)
	}
	return gossip(ctx, "sync", e.self, e.cfg.Peers, conn, dsts)
}
