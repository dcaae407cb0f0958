package conformance

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Each probe runs against an honest virtual target that must react as the
// spec says; check then looks at the target's own view.
func TestProbesAgainstHonestTarget(t *testing.T) {
	tests := []struct {
		probe     string
		probeAddr netip.Addr // zero: the played role's address
		check     func(t *testing.T, target *testNode, targetErr error)
	}{
		{"spoofed-key-announce", netip.Addr{}, func(t *testing.T, a *testNode, _ error) {
			if !a.log.has(`nexus session fail node-a peer=node-b err="identity mismatch peer=crossvm"`) || a.log.has("nexus session ok") {
				t.Errorf("node-a milestones:\n%s\nwant an identity mismatch and no session", strings.Join(a.log.lines(), "\n"))
			}
		}},
		{"replayed-announce", addrC, func(t *testing.T, a *testNode, _ error) {
			if e, ok := a.Peer("node-b"); !ok || e.Addr != addrC {
				t.Errorf("node-a's node-b entry = %+v, want the replayer's address %v", e, addrC)
			}
		}},
		{"malformed-announce", netip.Addr{}, func(t *testing.T, a *testNode, err error) {
			if got, per := a.Stats().AnnouncesMalformed, uint64(len(malformedAnnounces())); got == 0 || got%per != 0 {
				t.Errorf("node-a counted %d malformed announces, want a positive multiple of %d", got, per)
			}
			if err != nil {
				t.Errorf("node-a Run: %v, want a completed script", err)
			}
		}},
		{"oversized-announce", netip.Addr{}, func(t *testing.T, a *testNode, err error) {
			if s := a.Stats(); s.AnnouncesMalformed == 0 || s.AnnouncesDropped == 0 || s.AnnouncesLearned != 0 {
				t.Errorf("node-a stats %+v, want truncated and dropped announces and none learned", s)
			}
			if !a.log.has("nexus session ok node-a peer=node-b via=fallback") || err != nil {
				t.Errorf("node-a: %v\n%s\nwant a fallback session", err, strings.Join(a.log.lines(), "\n"))
			}
		}},
		{"wrong-msg1", netip.Addr{}, func(t *testing.T, b *testNode, err error) {
			if !errors.Is(err, ErrZeroDH) {
				t.Errorf("node-b Run error = %v, want ErrZeroDH", err)
			}
		}},
		{"tampered-record", netip.Addr{}, func(t *testing.T, b *testNode, _ error) {
			if s := b.Stats(); s.RecordsRejected != 1 || s.ProxyServed != 1 {
				t.Errorf("node-b stats %+v, want 1 rejected record and 1 served request", s)
			}
		}},
		{"truncated-record", netip.Addr{}, func(t *testing.T, b *testNode, _ error) {
			if s := b.Stats(); s.RecordsRejected == 0 || s.ProxyServed != 0 {
				t.Errorf("node-b stats %+v, want rejected records and nothing served", s)
			}
		}},
		{"disallowed-service", netip.Addr{}, func(t *testing.T, b *testNode, _ error) {
			if s := b.Stats(); s.ProxyDenied != 2 || s.ProxyServed != 1 {
				t.Errorf("node-b stats %+v, want 2 denied and 1 served", s)
			}
			if !b.log.has("nexus proxy denied node-b service=unknown") || !b.log.has("nexus proxy denied node-b sm-gate") {
				t.Errorf("node-b milestones:\n%s\nwant both denials", strings.Join(b.log.lines(), "\n"))
			}
		}},
		{"oversized-request", netip.Addr{}, func(t *testing.T, b *testNode, _ error) {
			if s := b.Stats(); s.ProxyDropped != 1 || s.ProxyServed != 1 {
				t.Errorf("node-b stats %+v, want 1 dropped and 1 served", s)
			}
			if !b.log.has("nexus proxy denied node-b oversized") {
				t.Errorf("node-b milestones:\n%s\nwant denied oversized", strings.Join(b.log.lines(), "\n"))
			}
		}},
	}
	if len(tests) != len(Probes()) {
		t.Fatalf("%d probe tests for %d probes: every probe needs one", len(tests), len(Probes()))
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			p, ok := LookupProbe(tt.probe)
			if !ok {
				t.Fatalf("no probe %q", tt.probe)
			}
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				m := newMemNet()
				target := newTestNode(t, m, Config{Role: p.Plays.Peer()})
				prober := newTestNode(t, m, Config{Probe: tt.probe, Addr: tt.probeAddr})
				tctx, stopTarget := context.WithCancel(ctx)
				defer stopTarget()
				target.start(tctx)
				// The target listens before the prober sends: a probe
				// that sends its round before the target's socket is
				// bound, and then sees the target dial by its fallback,
				// has tested nothing.
				synctest.Wait()
				prober.start(ctx)
				if err := prober.wait(); err != nil {
					t.Fatalf("probe Run: %v\nprobe:\n%s\ntarget:\n%s", err, strings.Join(prober.log.lines(), "\n"), strings.Join(target.log.lines(), "\n"))
				}
				if !prober.log.has("nexus probe ok " + p.Plays.String() + " probe=" + tt.probe) {
					t.Errorf("probe milestones:\n%s\nwant a probe ok line", strings.Join(prober.log.lines(), "\n"))
				}
				// A node-a target keeps retrying; a node-b target may still be serving.
				if p.Plays == RoleB && p.Name != "malformed-announce" && p.Name != "oversized-announce" {
					stopTarget()
				}
				if p.Plays == RoleA {
					stopTarget()
				}
				tt.check(t, target, target.wait())
			})
		})
	}
}

// Probes must be able to fail: with no target, or a target that misbehaves,
// the expectation does not hold.
func TestProbesFail(t *testing.T) {
	tests := []struct {
		probe     string
		probeAddr netip.Addr
		target    func(ctx context.Context, m *memNet)
	}{
		{"spoofed-key-announce", netip.Addr{}, nil}, // nobody dials
		{"replayed-announce", addrC, nil},
		// A node-b stand-in that answers any 32 bytes with 96.
		{"wrong-msg1", netip.Addr{}, func(ctx context.Context, m *memNet) {
			ln, err := m.host(addrB).ListenTCP(netip.AddrPortFrom(addrB, SessionPortB))
			if err != nil {
				panic(err)
			}
			go func() {
				defer ln.Close()
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 32)
				if _, err := c.Read(buf); err == nil {
					_, _ = c.Write(make([]byte, 96))
				}
				<-ctx.Done()
			}()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				m := newMemNet()
				if tt.target != nil {
					tt.target(ctx, m)
				}
				prober := newTestNode(t, m, Config{Probe: tt.probe, Addr: tt.probeAddr})
				prober.start(ctx)
				err := prober.wait()
				if !errors.Is(err, ErrProbeFailed) {
					t.Errorf("probe Run error = %v, want ErrProbeFailed", err)
				}
				if !prober.log.has("nexus probe fail") {
					t.Errorf("probe milestones:\n%s\nwant a probe fail line", strings.Join(prober.log.lines(), "\n"))
				}
				cancel()
			})
		})
	}
}

func TestProbeAddressRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMemNet()
		for _, tc := range []struct {
			probe string
			addr  netip.Addr
		}{
			{"replayed-announce", addrB},  // must not be node-b's own address
			{"oversized-announce", addrC}, // must be node-b's address
		} {
			n := newTestNode(t, m, Config{Probe: tc.probe, Addr: tc.addr})
			if err := n.Run(t.Context()); err == nil || errors.Is(err, ErrProbeFailed) {
				t.Errorf("probe %s at %v: Run error = %v, want a configuration error", tc.probe, tc.addr, err)
			}
		}
	})
}

func TestProbeCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Probes() {
		if seen[p.Name] || p.Expect == "" || p.run == nil || (p.Plays != RoleA && p.Plays != RoleB) {
			t.Errorf("probe %+v: duplicate, or missing expectation, run or role", p.Name)
		}
		seen[p.Name] = true
		// Every probe that plays node-a connects to node-b's only slot.
		if p.Plays == RoleA && !p.ConsumesSlot {
			t.Errorf("probe %s plays node-a but does not say it consumes node-b's slot", p.Name)
		}
	}
}

// TestProbeNames: the names serve's --probe help lists are the probes',
// in order, and each looks its probe up.
func TestProbeNames(t *testing.T) {
	names := ProbeNames()
	if len(names) != len(Probes()) || len(names) == 0 {
		t.Fatalf("got %d names for %d probes", len(names), len(Probes()))
	}
	for i, n := range names {
		if p, ok := LookupProbe(n); !ok || p.Name != Probes()[i].Name {
			t.Errorf("name %d %q looks up %v, %v; want probe %q", i, n, p.Name, ok, Probes()[i].Name)
		}
	}
}
