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

// serve's exit status gives the probe's verdict, whatever stopped the run:
// 0 for a pass, 2 for a failure (as a failed --check), and 3 when the probe
// gave none, since nothing was tested; the summary has the verdict.
func TestServeExitStatusOfAProbe(t *testing.T) {
	lenient := func(c *conformance.Config) { c.Net = lenientNet{c.Net} }
	tests := []struct {
		name    string
		nodeA   func(c *conformance.Config) // nil: no VM attached
		marker  string                      // waited for before the stop
		code    int                         // 0: Run returns nil
		err     error
		verdict string
		text    string // in the text summary
	}{
		{"ok", func(*conformance.Config) {}, "l2hub: nexus probe ok node-b probe=malformed-announce", 0, nil, "ok",
			"probe malformed-announce on node-b: ok: node-a ignored"},
		{"fail", lenient, "l2hub: nexus probe fail node-b probe=malformed-announce", 2, serve.ErrProbeFailed, "fail",
			"probe malformed-announce on node-b: fail: node-a dialled port 34569"},
		{"none", nil, "", 3, serve.ErrProbeNoVerdict, "none",
			"probe malformed-announce on node-b: none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sumFile := filepath.Join(t.TempDir(), "summary.json")
			s := startServe(t, "serve", "--control", "off", "--peer", "b", "--probe", "malformed-announce",
				"--port", "vm=tcp:127.0.0.1:0", "--summary", sumFile)
			if tt.nodeA != nil {
				nodeA, err := vnode.New(vnode.Config{Role: conformance.RoleA, Tune: tt.nodeA})
				if err != nil {
					t.Fatal(err)
				}
				attachVirtualNode(t, tcpPorts(t, s.stdout.String())["vm"], nodeA)
				s.waitFor(tt.marker)
			}
			err := s.stop()
			var ee *exitError
			switch {
			case tt.code == 0 && err != nil:
				t.Errorf("serve with a passed probe returned %v, want nil (exit status 0)", err)
			case tt.code != 0 && (!errors.As(err, &ee) || ee.code != tt.code || !strings.Contains(err.Error(), tt.err.Error())):
				t.Errorf("serve returned %v, want exit status %d for %q", err, tt.code, tt.err)
			}
			if out := s.stdout.String(); !strings.Contains(out, tt.text) {
				t.Errorf("the summary does not give the probe's verdict %q:\n%s", tt.text, out)
			}
			b, err := os.ReadFile(sumFile)
			if err != nil {
				t.Fatal(err)
			}
			var sum serve.Summary
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Fatal(err)
			}
			if len(sum.Probes) != 1 || sum.Probes[0].Peer != "node-b" || sum.Probes[0].Probe != "malformed-announce" || sum.Probes[0].Verdict != tt.verdict {
				t.Errorf("summary probes = %+v, want node-b's malformed-announce with verdict %q\n%s", sum.Probes, tt.verdict, b)
			}
		})
	}
}
