package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"l2hub/transport"
)

// Direct connects VM 2k with VM 2k+1, one socket per pair, the way two QEMUs
// are configured against each other without a hub: one listens
// (server=on / listen=), the other connects (server=off / connect=); over
// udp each is bound and sends to the other. It is the baseline a hub cannot
// beat. It carries unicast between partners, and broadcast only between two
// VMs (more would need a mesh of sockets no QEMU has).
type Direct struct{}

// Name implements Target.
func (Direct) Name() string { return "direct" }

// Open implements Target for the tcp, unix and udp transports.
func (Direct) Open(ctx context.Context, sc Scenario) (_ *Net, err error) {
	if sc.Pattern == Broadcast && sc.Ports > 2 {
		return nil, fmt.Errorf("%w: a direct pair carries broadcast only between two VMs", ErrUnsupported)
	}
	var dir string
	if sc.Transport == "unix" {
		if dir, err = os.MkdirTemp("", "l2hub-bench-"); err != nil {
			return nil, err
		}
	}
	n := &Net{}
	n.Close = func() error {
		err := closeAll(n.Ports)
		if dir != "" {
			os.RemoveAll(dir)
		}
		return err
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	for k := 0; k < sc.Ports/2; k++ {
		var a, b VM
		switch sc.Transport {
		case "tcp":
			a, b, err = streamPair(ctx, "tcp", "127.0.0.1:0")
		case "unix":
			a, b, err = streamPair(ctx, "unix", filepath.Join(dir, fmt.Sprintf("pair%d.sock", k)))
		case "udp":
			a, b, err = udpPair()
		default:
			err = fmt.Errorf("%w: transport %q for a direct pair (want tcp, unix or udp)", ErrUnsupported, sc.Transport)
		}
		if err != nil {
			return nil, err
		}
		n.Ports = append(n.Ports, a, b)
	}
	return n, nil
}

// streamPair listens on address, dials it and frames both ends: VM a
// connects, VM b listens.
func streamPair(ctx context.Context, network, address string) (a, b VM, err error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	dialed, err := transport.DialStream(ctx, network, ln.Addr().String(), 0)
	if err != nil {
		ln.Close()
		if acc := <-ch; acc.c != nil {
			acc.c.Close()
		}
		return nil, nil, err
	}
	acc := <-ch
	if acc.err != nil {
		dialed.Close()
		return nil, nil, acc.err
	}
	return dialed, transport.NewStreamConn(acc.c, 0), nil
}

// udpPair binds two loopback UDP sockets that send to each other, as two
// QEMUs with `-netdev dgram` pointed at each other. The second one's port is
// found by binding and releasing it, so a few attempts are allowed.
func udpPair() (a, b VM, err error) {
	for range 5 {
		var bAddr string
		if bAddr, err = freeUDPPort("127.0.0.1"); err != nil {
			return nil, nil, err
		}
		da, err := transport.ListenUDP("127.0.0.1:0", bAddr, 0, 0)
		if err != nil {
			return nil, nil, err
		}
		db, err := transport.ListenUDP(bAddr, da.LocalAddr().String(), 0, 0)
		if err == nil {
			return da, db, nil
		}
		da.Close()
	}
	return nil, nil, fmt.Errorf("udp pair: %w", err)
}

// freeUDPPort returns host:port with a port that was free a moment ago.
func freeUDPPort(host string) (string, error) {
	c, err := net.ListenPacket("udp4", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.LocalAddr().String(), nil
}

// Mcast makes every VM a member of one multicast group, as QEMU's
// `-netdev socket,mcast=G:P,localaddr=127.0.0.1` does: every member hears
// every frame, its own included. It is what the OS harness uses today.
type Mcast struct {
	// Group is the IPv4 group address (default 230.0.0.1); each Open uses a
	// fresh port on it, so runs do not hear each other.
	Group string
	// Local is the interface address to join on (default 127.0.0.1).
	Local string
}

// Name implements Target.
func (Mcast) Name() string { return "mcast" }

// Open implements Target; the scenario's transport must be "mcast".
func (m Mcast) Open(ctx context.Context, sc Scenario) (_ *Net, err error) {
	if sc.Transport != "mcast" {
		return nil, fmt.Errorf("%w: transport %q for a multicast group (want mcast)", ErrUnsupported, sc.Transport)
	}
	group, local := m.Group, m.Local
	if group == "" {
		group = "230.0.0.1"
	}
	if local == "" {
		local = transport.DefaultMcastLocal
	}
	free, err := freeUDPPort(local)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(free)
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("mcast: free port %q: %w", free, err)
	}
	addr := net.JoinHostPort(group, port)
	n := &Net{}
	n.Close = func() error { return closeAll(n.Ports) }
	for range sc.Ports {
		c, err := transport.JoinMcastLikeQEMU(addr, local, 0)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("%w: multicast on %s: %w", ErrUnsupported, local, err)
		}
		n.Ports = append(n.Ports, c)
	}
	return n, nil
}

func closeAll(ports []VM) error {
	var errs []error
	for _, p := range ports {
		if err := p.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
