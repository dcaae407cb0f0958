package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"l2hub/conformance"
	"l2hub/conformance/vnode"
	"l2hub/serve"
	"l2hub/transport"
)

// lenientNet is a conformance.Net whose UDP sockets repair an announce's
// magic and version before the node decodes it: a node-a that learns
// announces the OS rejects.
type lenientNet struct{ conformance.Net }

func (n lenientNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	pc, err := n.Net.ListenUDP(laddr)
	if err != nil {
		return nil, err
	}
	return lenientConn{pc}, nil
}

type lenientConn struct{ net.PacketConn }

func (c lenientConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(b)
	if n >= 5 {
		copy(b, "NXSB\x01")
	}
	return n, from, err
}

// attachVirtualNode runs n behind a QEMU stream connection to the hub port
// at addr, as a VM would be, until the test ends.
func attachVirtualNode(t *testing.T, addr string, n *vnode.Node) {
	conn := dialVM(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		n.Host.Close()
		conn.Close()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			k, err := n.Host.ReadFrame(buf)
			if err != nil || conn.WriteFrame(buf[:k]) != nil {
				return
			}
		}
	})
	wg.Go(func() {
		buf := make([]byte, transport.DefaultMaxFrame)
		for {
			k, err := conn.ReadFrame(buf)
			if err != nil || n.Host.WriteFrame(buf[:k]) != nil {
				return
			}
		}
	})
	wg.Go(func() { _ = n.Run(ctx) })
}

// A probe that fails makes serve exit 2, as a failed --check does, and its
// verdict is in the summary, whatever stopped the run.
func TestServeExitsTwoOnAFailedProbe(t *testing.T) {
	sumFile := filepath.Join(t.TempDir(), "summary.json")
	s := startServe(t, "serve", "--control", "off", "--peer", "b", "--probe", "malformed-announce",
		"--port", "vm=tcp:127.0.0.1:0", "--summary", sumFile)
	nodeA, err := vnode.New(vnode.Config{Role: conformance.RoleA, Tune: func(c *conformance.Config) { c.Net = lenientNet{c.Net} }})
	if err != nil {
		t.Fatal(err)
	}
	attachVirtualNode(t, tcpPorts(t, s.stdout.String())["vm"], nodeA)
	s.waitFor("l2hub: nexus probe fail node-b probe=malformed-announce")
	err = s.stop()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), serve.ErrProbeFailed.Error()) {
		t.Errorf("serve with a failed probe returned %v, want exit status 2 for %q", err, serve.ErrProbeFailed)
	}
	if out := s.stdout.String(); !strings.Contains(out, "probe malformed-announce on node-b: fail: node-a dialled port 34569") {
		t.Errorf("the summary does not give the probe's verdict:\n%s", out)
	}
	b, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	var sum serve.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Probes) != 1 || sum.Probes[0].Peer != "node-b" || sum.Probes[0].Probe != "malformed-announce" || sum.Probes[0].Verdict != "fail" {
		t.Errorf("summary probes = %+v, want node-b's malformed-announce failed\n%s", sum.Probes, b)
	}
}
