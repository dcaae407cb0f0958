package vnode_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/conformance"
	"l2hub/conformance/vnode"
	"l2hub/hub"
	"l2hub/internal/vsim"
)

// simNode is a virtual node on a vsim hub, with its milestones and the
// result of its Run.
type simNode struct {
	n    *vnode.Node
	mu   sync.Mutex
	log  []string
	done chan error
}

func (s *simNode) has(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.log, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func (s *simNode) lines() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// startSimNode builds a virtual node on sim's clock and starts it.
func startSimNode(t *testing.T, ctx context.Context, sim *vsim.Sim, cfg vnode.Config, port string) *simNode {
	t.Helper()
	sn := &simNode{done: make(chan error, 1)}
	cfg.Clock = sim.Clock
	cfg.StackRand = rand.NewChaCha8([32]byte{byte(cfg.Role), byte(len(cfg.Probe))})
	cfg.OnMilestone = func(m conformance.Milestone) {
		sn.mu.Lock()
		sn.log = append(sn.log, m.String())
		sn.mu.Unlock()
	}
	n, err := vnode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Host.Close() })
	sn.n = n
	if err := sim.Attach(port, n.Host.Describe(), n.Host); err != nil {
		t.Fatal(err)
	}
	if err := sim.Go(func() { sn.done <- n.Run(ctx) }); err != nil {
		t.Fatal(err)
	}
	return sn
}

// TestProbesAgainstVirtualNode runs every hostile probe as a virtual node
// against an honest virtual node of the other role, both on gVisor stacks
// attached to a hub core in virtual time, and checks the target's reaction
// from its own counters and milestones, as the probe's expectation states.
func TestProbesAgainstVirtualNode(t *testing.T) {
	checks := map[string]func(target *simNode, targetErr error) string{
		"spoofed-key-announce": func(a *simNode, _ error) string {
			if !a.has(`nexus session fail node-a peer=node-b err="identity mismatch peer=crossvm"`) || a.has("nexus session ok") {
				return "want an identity mismatch and no session"
			}
			return ""
		},
		"replayed-announce": func(a *simNode, _ error) string {
			if !a.has("nexus discovery ok node-a peer=node-b addr=" + vnode.ThirdAddr.String() + ":") {
				return "want node-b learned at the replayer's address " + vnode.ThirdAddr.String()
			}
			return ""
		},
		"malformed-announce": func(a *simNode, _ error) string {
			if a.n.Stats().AnnouncesMalformed == 0 || !a.has("nexus session ok node-a peer=node-b via=discovery target=10.42.0.11:34570") {
				return "want malformed announces counted and a session with the well-formed announce's port all the same"
			}
			return ""
		},
		"oversized-announce": func(a *simNode, _ error) string {
			if s := a.n.Stats(); s.AnnouncesMalformed == 0 || s.AnnouncesDropped == 0 {
				return "want truncated and dropped announces"
			}
			if !a.has("nexus session ok node-a peer=node-b via=discovery target=10.42.0.11:34570") {
				return "want a session with the well-formed announce's port"
			}
			return ""
		},
		"wrong-msg1": func(b *simNode, err error) string {
			// node-b goes on announcing, unreachable, after the failed
			// handshake (§2.2, §6.2): its Run ends only when stopped.
			if err != nil || !b.has(`nexus session fail node-b peer=node-a err="nexus read msg1: dh.ee: `+conformance.ErrZeroDH.Error()) {
				return "want node-b's session failed with ErrZeroDH, and node-b still running"
			}
			return ""
		},
		"tampered-record": func(b *simNode, _ error) string {
			if s := b.n.Stats(); s.RecordsRejected != 1 || s.ProxyServed != 1 {
				return "want 1 rejected record and 1 served request"
			}
			return ""
		},
		"truncated-record": func(b *simNode, _ error) string {
			if s := b.n.Stats(); s.RecordsRejected != 2 || s.ProxyServed != 1 {
				return "want 2 rejected records and 1 served request"
			}
			return ""
		},
		"disallowed-service": func(b *simNode, _ error) string {
			if s := b.n.Stats(); s.ProxyDenied != 2 || s.ProxyServed != 1 {
				return "want 2 denied and 1 served"
			}
			if !b.has("nexus proxy denied node-b service=unknown") || !b.has("nexus proxy denied node-b sm-gate") {
				return "want both denials among the milestones"
			}
			return ""
		},
		"oversized-request": func(b *simNode, _ error) string {
			if s := b.n.Stats(); s.ProxyDropped != 1 || s.ProxyServed != 1 {
				return "want 1 dropped and 1 served"
			}
			if !b.has("nexus proxy denied node-b oversized") {
				return "want denied oversized among the milestones"
			}
			return ""
		},
	}
	for _, p := range conformance.Probes() {
		t.Run(p.Name, func(t *testing.T) {
			check, ok := checks[p.Name]
			if !ok {
				t.Fatalf("no check for probe %s: every probe needs one", p.Name)
			}
			sim := vsim.New(vsim.Config{Mode: hub.ModeSwitch})
			defer sim.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// The target ends its script rather than holding the session, so
			// that a probe playing node-b sees the connection end.
			noHold := func(c *conformance.Config) { c.Hold = false }
			target := startSimNode(t, ctx, sim, vnode.Config{Role: p.Plays.Peer(), Tune: noHold}, "target")
			prober := startSimNode(t, ctx, sim, vnode.Config{Role: p.Plays, Probe: p.Name}, "probe")

			var probeErr error
			probed := func() bool {
				select {
				case probeErr = <-prober.done:
					return true
				default:
					return false
				}
			}
			if err := sim.Run(probed, 2*time.Minute); err != nil {
				t.Fatalf("%v\nprobe:\n%s\ntarget:\n%s", err, prober.lines(), target.lines())
			}
			if probeErr != nil || !prober.has("nexus probe ok "+p.Plays.String()+" probe="+p.Name) {
				t.Fatalf("probe Run: %v; want a probe ok line\nprobe:\n%s\ntarget:\n%s", probeErr, prober.lines(), target.lines())
			}
			// Let the target finish reacting: one more virtual second.
			until := sim.Clock.Elapsed() + time.Second
			var targetErr error
			var targetEnded bool
			settled := func() bool {
				if !targetEnded {
					select {
					case targetErr = <-target.done:
						targetEnded = true
					default:
					}
				}
				return targetEnded || sim.Clock.Elapsed() >= until
			}
			if err := sim.Run(settled, 3*time.Minute); err != nil && !errors.Is(err, vsim.ErrStalled) {
				t.Fatal(err)
			}
			if msg := check(target, targetErr); msg != "" {
				t.Errorf("%s: %s (target's Run: %v, stats %+v)\ntarget:\n%s\nprobe:\n%s", p.Expect, msg, targetErr, target.n.Stats(), target.lines(), prober.lines())
			}
		})
	}
}
