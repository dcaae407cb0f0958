package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/internal/vsim"
	"l2hub/transport/netstack"
)

// simRun is what one in-process run in virtual time produced.
type simRun struct {
	capture    []byte // the pcapng of every frame at ingress and egress
	report     string // the checker's report, frame numbers included
	milestones string // the checker's live lines
	nodes      string // the nodes' milestones with their virtual times
	elapsed    time.Duration
	stats      vsim.Stats
	r          Report
}

// runVirtual runs node-a and node-b on seeded netstack hosts through a hub
// core in switch mode in virtual time (vsim), with the checker and a
// capture observing, until node-a's script is over and 200 ms more have
// passed.
func runVirtual(t *testing.T, policy hub.Policy, seed uint64) simRun {
	t.Helper()
	return runVirtualSetup(t, simSetup{policy: policy, seed: seed, mode: hub.ModeSwitch})
}

// simSetup is how runVirtualSetup builds the run.
type simSetup struct {
	policy hub.Policy
	seed   uint64
	mode   hub.Mode
	// idle attaches a third host, port "c" (10.42.0.12), that runs no
	// node: flooded frames reach it too.
	idle bool
}

// idleHost is simSetup.idle's third host.
var idleHost = host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")}

// runVirtualSetup is runVirtual with a hub mode and an idle third port.
func runVirtualSetup(t *testing.T, setup simSetup) simRun {
	t.Helper()
	seed := setup.seed
	path := filepath.Join(t.TempDir(), "run.pcapng")
	sink, err := capture.Open(capture.Config{Path: path, Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	var lines syncbuf.Buffer
	chk, err := New(Options{Milestones: &lines})
	if err != nil {
		t.Fatal(err)
	}
	sim := vsim.New(vsim.Config{Mode: setup.mode, Policy: setup.policy, Observers: []hub.Observer{sink, chk}})
	defer sim.Close()

	var nodes syncbuf.Buffer
	clock := sim.Clock
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attach := func(h host, port string) *netstack.Host {
		var key [32]byte
		copy(key[:], fmt.Sprintf("l2hub vsim %d %s", seed, port))
		host, err := netstack.New(netstack.Config{
			MAC:   h.mac,
			Addr:  netip.PrefixFrom(h.ip, 24),
			Clock: clock,
			Rand:  rand.NewChaCha8(key),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { host.Close() })
		if err := sim.Attach(port, host.Describe(), host); err != nil {
			t.Fatal(err)
		}
		return host
	}
	start := func(role conformance.Role, port string) (*netstack.Host, chan error) {
		host := attach(hostFor(role), port)
		n, err := conformance.NewNode(conformance.Config{
			Role:  role,
			Net:   stackNet{host},
			Clock: clock,
			OnMilestone: func(m conformance.Milestone) {
				fmt.Fprintf(&nodes, "%v %s\n", clock.Elapsed(), m)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		if err := sim.Go(func() { done <- n.Run(ctx) }); err != nil {
			t.Fatal(err)
		}
		return host, done
	}
	_, bDone := start(conformance.RoleB, "b")
	_, aDone := start(conformance.RoleA, "a")
	if setup.idle {
		attach(idleHost, "c")
	}

	var aErr error
	var aEnded time.Duration = -1
	finished := func() bool {
		if aEnded < 0 {
			select {
			case aErr = <-aDone:
				aEnded = clock.Elapsed()
			default:
				return false
			}
		}
		// Let node-b see node-a's last ACKs before the run ends.
		return clock.Elapsed() >= aEnded+200*time.Millisecond
	}
	if err := sim.Run(finished, time.Minute); err != nil {
		t.Fatalf("after %v: %v; node milestones:\n%s", clock.Elapsed(), err, nodes.String())
	}
	if aErr != nil {
		t.Fatalf("node-a: %v", aErr)
	}
	cancel()
	if err := <-bDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("node-b: %v", err)
	}
	chk.Close()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := chk.Report()
	if !r.OK() || r.Lost != 0 {
		t.Fatalf("got %d failures, %d frames lost, want none:\n%s", r.Fail, r.Lost, dump(r))
	}
	return simRun{capture: data, report: dump(r), milestones: lines.String(), nodes: nodes.String(), elapsed: clock.Elapsed(), stats: sim.Stats(), r: r}
}

func hostFor(r conformance.Role) host {
	if r == conformance.RoleA {
		return hostA
	}
	return hostB
}

// faultPolicy is the fault scenario in the policy engine's own
// format: node-a's first 3 announces dropped, then 5% loss each way on the
// session. With seed 3 the session loses frames however short it is.
const faultPolicy = `seed: 3
rules:
  - name: first-announces
    match: {from: a, protocol: udp, dst_port: 37020, payload: NXSB, first: 3}
    drop: true
  - name: session-loss
    match: {link: a<->b, protocol: tcp}
    loss: 5%
`

// TestVirtualNodesInVirtualTime is the full in-process run (virtual node-a
// and node-b through the hub, the checker watching) under the virtual
// clock: it passes, and a second run with the same seed is the same run,
// frame for frame, byte for byte.
func TestVirtualNodesInVirtualTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two network stacks twice")
	}
	tests := []struct {
		name   string
		policy string // a policy file, as l2hub serve --policy takes
		// also is a verdict other than pass a check may have (see
		// TestVirtualNodesThroughHub).
		also map[string]Verdict
	}{
		{"clean", "", nil},
		{"first-announces-dropped-and-session-loss", faultPolicy, map[string]Verdict{SESS005: Info}},
	}
	// The run repeats because internal/vsim holds the process at one
	// processor while a Sim is open, not because the test does: at two or
	// more, so that a one-processor machine tests that too.
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := func() hub.Policy {
				if tt.policy == "" {
					return nil
				}
				p, err := filter.Parse([]byte(tt.policy), tt.name, []string{"a", "b"})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			first := runVirtual(t, policy(), 1)
			t.Logf("virtual time %v, %+v; node milestones:\n%s", first.elapsed, first.stats, first.nodes)
			for _, id := range mustPass {
				if v, ok := verdictOf(first.r, id); !ok || (v != Pass && v != tt.also[id]) {
					t.Errorf("got %s = %v (found %v), want pass:\n%s", id, v, ok, first.report)
				}
			}
			for _, want := range []string{"nexus session ok node-a->node-b", "nexus mux ok", "nexus proxy ok service=samgrd", "nexus proxy ok service=bundlemgrd"} {
				if !strings.Contains(first.milestones, want) {
					t.Errorf("got milestones\n%s\nwant %q", first.milestones, want)
				}
			}
			if tt.policy != "" {
				fd, ok := first.r.First(TCP001)
				if !ok || !strings.Contains(fd.Message, "explained by a frame the hub d") {
					t.Errorf("got TCP-001 %v, want retransmissions explained by the hub's drops:\n%s", fd, first.report)
				}
			}
			again := runVirtual(t, policy(), 1)
			if again.nodes != first.nodes {
				t.Errorf("node milestones differ between two runs with one seed:\nfirst:\n%s\nagain:\n%s", first.nodes, again.nodes)
			}
			if again.report != first.report {
				t.Errorf("reports differ between two runs with one seed:\nfirst:\n%s\nagain:\n%s", first.report, again.report)
			}
			if !bytes.Equal(again.capture, first.capture) {
				t.Errorf("captures differ between two runs with one seed: %d and %d bytes, first difference at byte %d",
					len(first.capture), len(again.capture), firstDiff(first.capture, again.capture))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
