package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"l2hub/conformance"
	"l2hub/internal/wallclock"
)

// checkNexus runs the DSoftBus node of package conformance over the guest
// kernel's own network stack (issue 7: one node implementation, proven on
// two stacks; the hub's virtual node runs the same code on gVisor).
// l2.role=node-a|node-b picks the side, l2.ip its address and the first
// l2.peer the peer it announces to and, as node-a, falls back to dialling
// (the OS's addressing: node-a 52:54:00:12:34:0a / 10.42.0.10, node-b …:0b /
// 10.42.0.11). Every milestone becomes a marker line:
//
//	GUEST: nexus announce ok node-a to=239.42.0.1:37020,10.42.0.11:37020
//	GUEST: nexus discovery ok node-a peer=node-b addr=10.42.0.11:34568
//	GUEST: nexus session ok node-a peer=node-b via=discovery
//	GUEST: nexus mux ok node-a peer=node-b
//	GUEST: nexus proxy ok node-a service=samgrd
//	GUEST: nexus ok role=node-a announces=3 learned=2 dials=1 proxy=2
//
// The check passes when the node's script completes (node-a: its requests
// answered; node-b: the session served until node-a closed it) and the
// session, mux and proxy milestones were all reached. As node-b, it fails
// as soon as a handshake fails: node-b accepts one connection per boot
// (§6.2), so it can never succeed after that; the node would announce,
// unreachable, until the check's l2.timeout, as the OS does until its
// harness gives up.
func checkNexus(ctx context.Context, e *env) (string, error) {
	role, err := conformance.ParseRole(e.cfg.Role)
	if err != nil {
		return "", fmt.Errorf("l2.role=%s: %w", e.cfg.Role, err)
	}
	peer := role.Peer().Addr()
	if len(e.cfg.Peers) > 0 {
		peer = e.cfg.Peers[0]
	}
	reached := map[string]int{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	node, err := conformance.NewNode(conformance.Config{
		Role:  role,
		Net:   kernelNet{},
		Clock: wallclock.Clock{},
		Addr:  e.self,
		Peer:  peer,
		// 0 keeps the node's default.
		ReplyTimeout: e.cfg.Reply,
		OnMilestone: func(m conformance.Milestone) {
			e.mark("%s", m)
			if m.Status == conformance.StatusOK {
				reached[m.Name]++
			}
			if m.Role == conformance.RoleB && m.Name == conformance.MilestoneSession && m.Status == conformance.StatusFail {
				cancel() // Run returns the handshake's error
			}
		},
	})
	if err != nil {
		return "", err
	}
	err = node.Run(ctx)
	st := node.Stats()
	stats := fmt.Sprintf("announces=%d learned=%d dials=%d handshake-failures=%d", st.AnnouncesSent,
		st.AnnouncesLearned, st.Dials, st.HandshakeFailures)
	if err != nil {
		return "", fmt.Errorf("%w (%s)", err, stats)
	}
	for _, m := range []string{conformance.MilestoneSession, conformance.MilestoneMux, conformance.MilestoneProxy} {
		if reached[m] == 0 {
			return "", fmt.Errorf("node finished without a %s milestone (%s)", m, stats)
		}
	}
	return nexusPassed(role, stats, reached[conformance.MilestoneProxy]), nil
}

// nexusPassed is the nexus check's detail when it passes, after "nexus ok".
func nexusPassed(role conformance.Role, stats string, proxies int) string {
	return fmt.Sprintf("role=%s %s proxy=%d", role, stats, proxies)
}

// kernelNet is conformance.Net on the guest kernel's sockets.
type kernelNet struct{}

var _ conformance.Net = kernelNet{}

func (kernelNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(laddr))
}

func (kernelNet) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	return net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(laddr))
}

// DialTCP binds laddr with SO_REUSEADDR, so node-a's fixed source port
// (10.42.0.10:40010, §6.1) binds even while an earlier connection from it
// lingers in TIME_WAIT. The *net.TCPConn it returns is a
// conformance.Linger: node-a aborts each failed attempt (a RST, no
// TIME_WAIT), so its redial reuses the same 4-tuple as the OS's does.
func (kernelNet) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(laddr), Control: reuseAddr}
	return d.DialContext(ctx, "tcp4", raddr.String())
}
