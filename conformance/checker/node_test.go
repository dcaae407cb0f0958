package checker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/internal/wallclock"
	"l2hub/transport/netstack"
)

// stackNet runs a virtual node on a netstack host.
type stackNet struct{ h *netstack.Host }

func (n stackNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	return n.h.ListenUDP(laddr.Port())
}

func (n stackNet) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	return n.h.ListenTCP(laddr.Port())
}

func (n stackNet) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	return n.h.DialTCPFrom(ctx, laddr.Port(), raddr)
}

// lossPolicy drops, once each, the first announces from port a and every
// fourth TCP data segment to or from node-b's session port: the faults of
// the scenario, deterministic by count.
type lossPolicy struct {
	mu        sync.Mutex
	announces int
	segments  int
}

func (p *lossPolicy) Decide(_ time.Duration, link hub.Link, frame []byte, d *hub.Decision) {
	var pkt packet
	parsePacket(frame, &pkt)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case pkt.kind == pktUDP && pkt.dstPort == conformance.DiscoveryPort && link.FromName == "a" && p.announces < 3:
		p.announces++
		d.Drop = true
		d.Notes = append(d.Notes, hub.Note{Rule: "first-announces", Action: "drop"})
	case pkt.kind == pktTCP && len(pkt.payload) > 0 && (pkt.dstPort == conformance.SessionPortB || pkt.srcPort == conformance.SessionPortB):
		p.segments++
		if p.segments%4 == 2 {
			d.Drop = true
			d.Notes = append(d.Notes, hub.Note{Rule: "session-loss", Action: "drop"})
		}
	}
}

func newHost(t *testing.T, mac net.HardwareAddr, addr string) *netstack.Host {
	h, err := netstack.New(netstack.Config{MAC: mac, Addr: netip.MustParsePrefix(addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestVirtualNodesThroughHub runs the conformance package's node-a and
// node-b on netstack hosts attached to a live hub with the checker as an
// observer, and requires a complete, passing report.
func TestVirtualNodesThroughHub(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two network stacks in real time")
	}
	tests := []struct {
		name   string
		policy hub.Policy
		// also is a verdict other than pass that a check may have: with
		// node-a's first announces lost, or in real time on a loaded
		// machine sent after it dialled (about 1 run in 20 with a load of
		// 8), node-a may dial before node-b has learned its key, and
		// nothing then binds node-a's static (the OS passes, NX-06).
		also map[string]Verdict
	}{
		{"clean", nil, map[string]Verdict{SESS005: Info}},
		{"first-announces-dropped-and-session-loss", &lossPolicy{}, map[string]Verdict{SESS005: Info}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines syncbuf.Buffer
			chk, err := New(Options{Milestones: &lines})
			if err != nil {
				t.Fatal(err)
			}
			h, err := hub.New(hub.Config{Clock: wallclock.Clock{}, Policy: tt.policy, Observers: []hub.Observer{chk}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			hubDone := make(chan error, 1)
			go func() { hubDone <- h.Run(ctx) }()
			hosts := map[string]*netstack.Host{
				"a": newHost(t, hostA.mac, "10.42.0.10/24"),
				"b": newHost(t, hostB.mac, "10.42.0.11/24"),
			}
			for name, host := range hosts {
				if err := h.AddPort(name, host.Describe()); err != nil {
					t.Fatal(err)
				}
				if _, err := h.Attach(name, host); err != nil {
					t.Fatal(err)
				}
			}
			node := func(r conformance.Role, host *netstack.Host) *conformance.Node {
				n, err := conformance.NewNode(conformance.Config{Role: r, Net: stackNet{host}, Clock: wallclock.Clock{}})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			a, b := node(conformance.RoleA, hosts["a"]), node(conformance.RoleB, hosts["b"])
			bctx, stopB := context.WithCancel(ctx)
			bDone := make(chan error, 1)
			go func() { bDone <- b.Run(bctx) }()
			if err := a.Run(ctx); err != nil {
				t.Fatalf("node-a: %v", err)
			}
			// Let node-b see node-a's last ACKs before it goes.
			time.Sleep(100 * time.Millisecond)
			stopB()
			if err := <-bDone; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("node-b: %v", err)
			}
			cancel()
			<-hubDone
			chk.Close()
			r := chk.Report()
			if !r.OK() || r.Lost != 0 {
				t.Fatalf("got %d failures, %d frames lost, want none:\n%s", r.Fail, r.Lost, dump(r))
			}
			for _, id := range mustPass {
				if v, ok := verdictOf(r, id); !ok || (v != Pass && v != tt.also[id]) {
					t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, dump(r))
				}
			}
			for _, want := range []string{"nexus session ok node-a->node-b", "nexus mux ok", "nexus proxy ok service=samgrd", "nexus proxy ok service=bundlemgrd"} {
				if !strings.Contains(lines.String(), want) {
					t.Errorf("got milestones\n%s\nwant %q", lines.String(), want)
				}
			}
			if tt.policy != nil {
				fd, ok := r.First(TCP001)
				if !ok || !strings.Contains(fd.Message, "explained by a frame the hub d") {
					t.Errorf("got TCP-001 %v, want retransmissions explained by the hub's drops:\n%s", fd, dump(r))
				}
			}
			t.Logf("report:\n%s", dump(r))
		})
	}
}
