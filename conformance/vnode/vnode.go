package vnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"l2hub/conformance"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport/netstack"
)

// Config configures a virtual node.
type Config struct {
	Role  conformance.Role
	Probe string // a hostile variant (conformance.Probes); "" plays the role honestly
	// Clock is the node's and its network stack's time; nil is the wall
	// clock (internal/wallclock, for a node on a live hub). A simulation in
	// virtual time must give its virtual clock: nothing refuses a nil one,
	// and the run then neither moves with the Sim nor repeats.
	Clock hub.Clock
	// OnMilestone receives the node's milestones (see conformance.Milestone);
	// the Logger then has them at DEBUG only.
	OnMilestone func(conformance.Milestone)
	// Tune adjusts the node's configuration before it starts (timeouts,
	// requests); may be nil.
	Tune   func(*conformance.Config)
	Logger *slog.Logger
	// StackRand, when set, is the node's network stack's randomness
	// (netstack.Config.Rand); nil is crypto/rand, so a simulation that
	// must repeat seeds it (nothing refuses a nil one).
	StackRand io.Reader
}

// Node is a virtual node: Host attaches to a hub port, Run plays the role.
type Node struct {
	Host *netstack.Host
	node *conformance.Node
}

var _ hub.PortIO = (*netstack.Host)(nil)

// ThirdAddr is where a probe that must not use its role's address sits:
// 10.42.0.12, a third node on the OS's segment (MAC 52:54:00:12:34:0c).
var ThirdAddr = netip.AddrFrom4([4]byte{10, 42, 0, 12})

// MAC returns the MAC the OS's harness gives a role's VM: 52:54:00:12:34:<last
// byte of its address> (node-a 0a, node-b 0b), so the source IP follows the
// spec's MAC rule.
func MAC(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, a[3]}
}

// New builds the host and the node; nothing runs until Run.
func New(cfg Config) (*Node, error) {
	addr := cfg.Role.Addr()
	if p := cfg.Probe; p != "" {
		if pr, ok := conformance.LookupProbe(p); ok {
			switch {
			case pr.NeedsAddr.IsValid():
				addr = pr.NeedsAddr
			case pr.AvoidAddr == addr:
				// The probe speaks for the role from elsewhere (a replayer):
				// a third node on the segment.
				addr = ThirdAddr
			}
		}
	}
	clock := cfg.Clock
	if clock == nil {
		clock = wallclock.Clock{}
	}
	host, err := netstack.New(netstack.Config{
		MAC:   MAC(addr),
		Addr:  netip.PrefixFrom(addr, 24),
		Clock: cfg.Clock,
		Rand:  cfg.StackRand,
	})
	if err != nil {
		return nil, fmt.Errorf("virtual %s: %w", cfg.Role, err)
	}
	ncfg := conformance.Config{
		Role:        cfg.Role,
		Net:         Net{host},
		Clock:       clock,
		Addr:        addr,
		Probe:       cfg.Probe,
		Hold:        true,
		OnMilestone: cfg.OnMilestone,
		Logger:      cfg.Logger,
	}
	if cfg.Tune != nil {
		cfg.Tune(&ncfg)
	}
	node, err := conformance.NewNode(ncfg)
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("virtual %s: %w", cfg.Role, err)
	}
	return &Node{Host: host, node: node}, nil
}

// Run plays the role until ctx ends or the node's script is over.
func (n *Node) Run(ctx context.Context) error { return n.node.Run(ctx) }

// Stats returns the node's counters.
func (n *Node) Stats() conformance.Stats { return n.node.Stats() }

// Verdict returns the probe's verdict once it has been given (see
// conformance.Node.Verdict).
func (n *Node) Verdict() (conformance.ProbeVerdict, bool) { return n.node.Verdict() }

// Net runs a conformance node on a netstack host.
type Net struct{ Host *netstack.Host }

var _ conformance.Net = Net{}

// ListenUDP implements conformance.Net. The host has one address; laddr's
// address must be it (or unspecified).
func (n Net) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	if err := n.own(laddr.Addr()); err != nil {
		return nil, err
	}
	return n.Host.ListenUDP(laddr.Port())
}

// ListenTCP implements conformance.Net.
func (n Net) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	if err := n.own(laddr.Addr()); err != nil {
		return nil, err
	}
	return n.Host.ListenTCP(laddr.Port())
}

// DialTCP implements conformance.Net. A fixed local port is bound with
// address reuse, and the connection implements conformance.Linger, so
// node-a's aborted attempt frees its 4-tuple for the redial at once.
func (n Net) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	if err := n.own(laddr.Addr()); err != nil {
		return nil, err
	}
	if laddr.Port() == 0 {
		return n.Host.DialTCP(ctx, raddr)
	}
	return dialFrom(ctx, n.Host, laddr.Port(), raddr)
}

// dialFrom is gonet.DialTCPWithBind with SO_REUSEADDR set before the bind.
func dialFrom(ctx context.Context, h *netstack.Host, port uint16, raddr netip.AddrPort) (net.Conn, error) {
	if !raddr.Addr().Unmap().Is4() {
		return nil, fmt.Errorf("virtual node: dial %v: only IPv4 is supported", raddr)
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Source: net.TCPAddrFromAddrPort(netip.AddrPortFrom(h.Addr(), port)),
			Addr: net.TCPAddrFromAddrPort(raddr), Err: err}
	}
	var wq waiter.Queue
	ep, terr := h.Stack().NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, opErr(errors.New(terr.String()))
	}
	ep.SocketOptions().SetReuseAddress(true)
	entry, writable := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if terr := ep.Bind(tcpip.FullAddress{NIC: netstack.NICID, Addr: tcpip.AddrFrom4(h.Addr().As4()), Port: port}); terr != nil {
		ep.Close()
		return nil, opErr(errors.New(terr.String()))
	}
	terr = ep.Connect(tcpip.FullAddress{NIC: netstack.NICID, Addr: tcpip.AddrFrom4(raddr.Addr().Unmap().As4()), Port: raddr.Port()})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, opErr(ctx.Err())
		case <-writable:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, opErr(errors.New(terr.String()))
	}
	return &tcpConn{TCPConn: gonet.NewTCPConn(&wq, ep), ep: ep}, nil
}

// tcpConn is a gonet connection with SO_LINGER.
type tcpConn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
}

var _ conformance.Linger = (*tcpConn)(nil)

// SetLinger implements conformance.Linger: 0 makes Close send a RST and
// leave no TIME_WAIT; a negative value restores the graceful close.
func (c *tcpConn) SetLinger(sec int) error {
	c.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: sec >= 0, Timeout: time.Duration(max(sec, 0)) * time.Second})
	return nil
}

func (n Net) own(a netip.Addr) error {
	if a.IsValid() && !a.IsUnspecified() && a != n.Host.Addr() {
		return fmt.Errorf("virtual node: address %s is not the host's %s", a, n.Host.Addr())
	}
	return nil
}
