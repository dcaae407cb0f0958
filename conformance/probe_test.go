package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
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
			if got, kinds := a.Stats().AnnouncesMalformed, uint64(len(malformedAnnounces())); got < kinds {
				t.Errorf("node-a counted %d malformed announces, want at least one of each of the %d kinds", got, kinds)
			}
			if !a.log.has("nexus session ok node-a peer=node-b via=discovery target=10.42.0.11:34570") || err != nil {
				t.Errorf("node-a: %v\n%s\nwant a session with the well-formed announce's port", err, strings.Join(a.log.lines(), "\n"))
			}
		}},
		{"oversized-announce", netip.Addr{}, func(t *testing.T, a *testNode, err error) {
			if s := a.Stats(); s.AnnouncesMalformed == 0 || s.AnnouncesDropped == 0 {
				t.Errorf("node-a stats %+v, want truncated and dropped announces", s)
			}
			if !a.log.has("nexus session ok node-a peer=node-b via=discovery target=10.42.0.11:34570") || err != nil {
				t.Errorf("node-a: %v\n%s\nwant a session with the well-formed announce's port", err, strings.Join(a.log.lines(), "\n"))
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
			if s := b.Stats(); s.RecordsRejected != 2 || s.ProxyServed != 1 {
				t.Errorf("node-b stats %+v, want 2 rejected records and 1 served request", s)
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

// Probes must be able to fail: against a target that breaks the spec in
// the way a probe looks for, its expectation does not hold, and the
// verdict says what it saw. Every probe has at least one case.
func TestProbesFail(t *testing.T) {
	type target = probeTarget
	node := func(cfg func(m *memNet) Config) target {
		return func(ctx context.Context, m *memNet) func() {
			tn := newTestNode(t, m, cfg(m))
			tn.start(ctx)
			return func() { _ = tn.wait() }
		}
	}
	standIn := func(parse func([]byte) (Announce, error), sendMsg1 bool) target {
		return func(ctx context.Context, m *memNet) func() { return startStandInNodeA(ctx, m, parse, sendMsg1) }
	}
	misDenying := func(status byte, payload []byte) target {
		return func(ctx context.Context, m *memNet) func() { return startMisDenyingNodeB(ctx, m, status, payload) }
	}
	tests := []struct {
		name      string
		probe     string
		probeAddr netip.Addr
		target    target
		observed  string // in the verdict
	}{
		{"spoofed-key-announce/deaf", "spoofed-key-announce", netip.Addr{}, node(deafNodeA), "never dialled the spoofed node-b"},
		{"spoofed-key-announce/key-blind", "spoofed-key-announce", netip.Addr{}, standIn(ParseReceivedAnnounce, true), "sent msg1"},
		{"replayed-announce/deaf", "replayed-announce", addrC, node(deafNodeA), "never dialled the replayer"},
		{"replayed-announce/dials-without-msg1", "replayed-announce", addrC, standIn(ParseReceivedAnnounce, false), "dialled the replayer but sent no msg1"},
		{"malformed-announce/deaf", "malformed-announce", netip.Addr{}, node(deafNodeA), "never dialled 10.42.0.11:34570"},
		{"malformed-announce/lenient", "malformed-announce", netip.Addr{}, node(lenientNodeA), "dialled port 34569"},
		{"malformed-announce/no-count-bound", "malformed-announce", netip.Addr{}, standIn(parseWithoutCountBound, false), "dialled port 34569"},
		{"oversized-announce/deaf", "oversized-announce", netip.Addr{}, node(deafNodeA), "never dialled 10.42.0.11:34570"},
		{"oversized-announce/reads-whole-datagrams", "oversized-announce", netip.Addr{}, standIn(ParseAnnounce, false), "dialled port 34569"},
		// A node-b stand-in that answers any 32 bytes with 96.
		{"wrong-msg1/answers", "wrong-msg1", netip.Addr{}, func(ctx context.Context, m *memNet) func() {
			return startMsg1TakingNodeB(ctx, m, func(c net.Conn) {
				_, _ = c.Write(make([]byte, 96))
				<-ctx.Done()
			})
		}, "answered a low-order msg1"},
		// node-b ends the session on the first record after the ladder,
		// having taken the rest of what the probe wrote (drain).
		{"tampered-record/ends-session", "tampered-record", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, RequestRecordLen) }), "ended the session on the tampered record"},
		{"truncated-record/ends-session", "truncated-record", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, 137+138+RequestRecordLen) }), "node-b ended the session (proxy service=samgrd: EOF) after 137 + 275 bytes"},
		// ... or at once, so that the probe's write fails.
		{"truncated-record/ends-session-before-write", "truncated-record", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, 0) }), "ended the session on 137 bytes"},
		{"truncated-record/ends-session-before-filler", "truncated-record", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, 137) }), "not the 138 bytes of filler"},
		// node-b stops serving without ending the session: silent, as a
		// node-b that skips the records that fail is until it is realigned.
		{"truncated-record/stalls", "truncated-record", netip.Addr{}, node(stallingNodeB), "no reply to the genuine request at n=3"},
		{"truncated-record/advances-nonce", "truncated-record", netip.Addr{}, startNonceAdvancingNodeB, "no reply to the genuine request at n=3"},
		{"tampered-record/advances-nonce", "tampered-record", netip.Addr{}, startNonceAdvancingNodeB, "no reply to the genuine request at n=3"},
		{"disallowed-service/ends-session", "disallowed-service", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, RequestRecordLen) }), "service 1: node-b ended the session"},
		// node-b gets the denials wrong; the genuine resolve after them
		// still succeeds, so only the denial's check can fail the probe.
		{"disallowed-service/deny-with-status-0", "disallowed-service", netip.Addr{}, misDenying(0, nil), "service 9: status 0 with 0 bytes, want status 1 and none"},
		{"disallowed-service/deny-with-payload", "disallowed-service", netip.Addr{}, misDenying(ProxyStatusFail, []byte{0x42}), "service 9: status 1 with 1 bytes, want status 1 and none"},
		{"oversized-request/answers-it", "oversized-request", netip.Addr{}, misDenying(ProxyStatusFail, nil), "node-b answered the oversized request (status 1)"},
		{"oversized-request/ends-session", "oversized-request", netip.Addr{}, node(func(m *memNet) Config { return endingNodeB(m, RequestRecordLen) }), "ended the session on the oversized request"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.probe] = true
	}
	for _, p := range Probes() {
		if !covered[p.Name] {
			t.Errorf("probe %s has no case that makes it fail", p.Name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prober, err := runProbeAgainst(t, tt.probe, tt.probeAddr, tt.target)
			if !errors.Is(err, ErrProbeFailed) {
				t.Errorf("probe Run error = %v, want ErrProbeFailed", err)
			}
			v, ok := prober.Verdict()
			if !ok || v.Status != StatusFail || !strings.Contains(v.Observed, tt.observed) {
				t.Errorf("verdict %+v, %v; want a failure observing %q\nprobe:\n%s", v, ok, tt.observed, strings.Join(prober.log.lines(), "\n"))
			}
			if !prober.log.has("nexus probe fail") {
				t.Errorf("probe milestones:\n%s\nwant a probe fail line", strings.Join(prober.log.lines(), "\n"))
			}
		})
	}
}

// runProbeAgainst runs probe, at probeAddr (zero for its role's), against
// the target start builds (none if nil) in a synctest bubble, until the
// probe ends; it then stops the target. It returns the probing node and
// its Run error.
func runProbeAgainst(t *testing.T, probe string, probeAddr netip.Addr, start probeTarget) (*testNode, error) {
	var prober *testNode
	var err error
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		m := newMemNet()
		prober = newTestNode(t, m, Config{Probe: probe, Addr: probeAddr})
		tctx, stopTarget := context.WithCancel(ctx)
		defer stopTarget()
		waitTarget := func() {}
		if start != nil {
			waitTarget = start(tctx, m)
		}
		synctest.Wait()
		prober.start(ctx)
		err = prober.wait()
		stopTarget()
		waitTarget()
	})
	return prober, err
}

// probeTarget starts a probe's target in m until ctx ends; wait blocks
// until it has stopped.
type probeTarget func(ctx context.Context, m *memNet) (wait func())

// wrong-msg1 passes a node-b that sends no msg2 for a low-order msg1,
// whether it then holds the connection in silence or closes it, and says
// which: the silent window is no reply, not bytes received.
func TestWrongMsg1JudgesSilenceAndClose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		then     func(ctx context.Context) func(c net.Conn)
		observed string
	}{
		{"silent-holds", func(ctx context.Context) func(net.Conn) { return func(net.Conn) { <-ctx.Done() } }, "node-b sent no msg2 for a low-order msg1"},
		{"closes", func(context.Context) func(net.Conn) { return func(net.Conn) {} }, "node-b sent no msg2 for a low-order msg1 and closed the connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prober, err := runProbeAgainst(t, "wrong-msg1", netip.Addr{}, func(ctx context.Context, m *memNet) func() {
				return startMsg1TakingNodeB(ctx, m, tc.then(ctx))
			})
			if v, ok := prober.Verdict(); err != nil || !ok || v.Status != StatusOK || v.Observed != tc.observed {
				t.Errorf("Run = %v, verdict %+v, %v; want ok observing %q\nprobe:\n%s", err, v, ok, tc.observed, strings.Join(prober.log.lines(), "\n"))
			}
		})
	}
}

// A probe playing node-b that never hears node-a gives no verdict on it:
// it reports its target absent, which is no failure of the target's.
func TestProbesReportAnAbsentTarget(t *testing.T) {
	eachNodeBProbe(t, func(t *testing.T, ctx context.Context, p Probe, addr netip.Addr) {
		prober := newTestNode(t, newMemNet(), Config{Probe: p.Name, Addr: addr})
		prober.start(ctx)
		err := prober.wait()
		if !errors.Is(err, ErrTargetAbsent) || errors.Is(err, ErrProbeFailed) {
			t.Errorf("probe Run error = %v, want ErrTargetAbsent alone", err)
		}
		v, ok := prober.Verdict()
		if !ok || v.Status != StatusAbsent || !strings.Contains(v.Observed, "node-a never appeared") {
			t.Errorf("verdict %+v, %v; want absent, observing that node-a never appeared", v, ok)
		}
		if !prober.log.has("nexus probe absent node-b probe=" + p.Name) {
			t.Errorf("probe milestones:\n%s\nwant a probe absent line", strings.Join(prober.log.lines(), "\n"))
		}
	})
}

// eachNodeBProbe runs f for each probe that plays node-b, as a subtest in
// a synctest bubble, with a context that ends after an hour and the
// address the probe's node takes: addrC for one that must avoid node-b's
// own, else zero (node-b's).
func eachNodeBProbe(t *testing.T, f func(t *testing.T, ctx context.Context, p Probe, addr netip.Addr)) {
	t.Helper()
	for _, p := range Probes() {
		if p.Plays != RoleB {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				var addr netip.Addr
				if p.AvoidAddr.IsValid() {
					addr = addrC
				}
				f(t, ctx, p, addr)
			})
		})
	}
}

// A verdict reached as the node stops is kept: here the probe is stopped
// as it closes the connection it judged, before it reports the verdict.
func TestProbeVerdictAtStopIsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		a := newTestNode(t, m, Config{Role: RoleA})
		pctx, stopProbe := context.WithCancel(ctx)
		prober := newTestNode(t, m, Config{Probe: "spoofed-key-announce", Net: closeHookNet{Net: m.host(addrB), onClose: stopProbe}})
		a.start(ctx)
		synctest.Wait()
		prober.start(pctx)
		err := prober.wait()
		cancel()
		_ = a.wait()
		if pctx.Err() == nil {
			t.Fatal("the probe was not stopped as it closed its connection: the test tests nothing")
		}
		if v, ok := prober.Verdict(); err != nil || !ok || v.Status != StatusOK {
			t.Errorf("probe stopped at its verdict: Run = %v, verdict %+v, %v; want nil and its pass kept\n%s", err, v, ok, strings.Join(prober.log.lines(), "\n"))
		}
	})
}

// The probes that play node-b start their window once they hear node-a:
// a node-a that boots long after them (a VM started after the hub) is
// judged, not reported absent.
func TestProbesWaitForLateNodeA(t *testing.T) {
	eachNodeBProbe(t, func(t *testing.T, ctx context.Context, p Probe, addr netip.Addr) {
		m := newMemNet()
		prober := newTestNode(t, m, Config{Probe: p.Name, Addr: addr})
		target := newTestNode(t, m, Config{Role: RoleA})
		prober.start(ctx)
		time.Sleep(90 * time.Second) // node-a's VM boots
		tctx, stop := context.WithCancel(ctx)
		target.start(tctx)
		err := prober.wait()
		stop()
		_ = target.wait()
		if err != nil {
			t.Errorf("probe Run: %v\nprobe:\n%s\ntarget:\n%s", err, strings.Join(prober.log.lines(), "\n"), strings.Join(target.log.lines(), "\n"))
		}
	})
}

// With the OS's timing (node-a dials on its first pass, before it has read
// an announce, and boots while the probe is under way), the announce probes
// pass only once node-a has read and ignored what they test.
func TestAnnounceProbesJudgeWhatNodeARead(t *testing.T) {
	for _, tc := range []struct {
		probe   string
		ignored func(Stats) uint64
	}{
		{"malformed-announce", func(s Stats) uint64 { return s.AnnouncesMalformed }},
		{"oversized-announce", func(s Stats) uint64 { return min(s.AnnouncesMalformed, s.AnnouncesDropped) }},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				m := newMemNet()
				prober := newTestNode(t, m, Config{Probe: tc.probe})
				target := newTestNode(t, m, Config{Role: RoleA, DiscoveryWait: -1})
				prober.start(ctx)
				synctest.Wait()
				time.Sleep(10 * time.Millisecond) // node-a boots between two announce rounds
				tctx, stop := context.WithCancel(ctx)
				target.start(tctx)
				err := prober.wait()
				stop()
				_ = target.wait()
				if err != nil {
					t.Fatalf("probe Run: %v\n%s", err, strings.Join(prober.log.lines(), "\n"))
				}
				if s := target.Stats(); tc.ignored(s) == 0 || s.DialFailures == 0 {
					t.Errorf("node-a stats %+v: want announces it ignored and refused fallback dials before the verdict", s)
				}
			})
		})
	}
}

// Against a node-a that holds its session, as the OS does, the announce
// probes that end in a session give their verdict once its ladder is done,
// and then go on serving it until the run ends.
func TestAnnounceProbesJudgeAHoldingNodeA(t *testing.T) {
	for _, probe := range []string{"malformed-announce", "oversized-announce"} {
		t.Run(probe, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				m := newMemNet()
				target := newTestNode(t, m, Config{Role: RoleA, Hold: true})
				prober := newTestNode(t, m, Config{Probe: probe})
				target.start(ctx)
				synctest.Wait()
				prober.start(ctx)
				for range 120 {
					if prober.log.has("nexus probe") {
						break
					}
					time.Sleep(time.Second)
				}
				if !prober.log.has("nexus probe ok node-b probe=" + probe) {
					t.Errorf("no verdict while node-a holds its session:\n%s", strings.Join(prober.log.lines(), "\n"))
				}
				synctest.Wait()
				select {
				case <-prober.done:
					t.Errorf("probe Run returned (%v) while node-a held its session, want it serving on", prober.err)
				default:
				}
				cancel()
				if err := prober.wait(); err != nil {
					t.Errorf("probe Run after the verdict: %v, want nil", err)
				}
				_ = target.wait()
				if s := prober.Stats(); s.ProxyServed != uint64(len(BringUpRequests())) {
					t.Errorf("probe served %d requests after its verdict, want %d", s.ProxyServed, len(BringUpRequests()))
				}
			})
		})
	}
}

// A probe run at an address its rules forbid is refused before it sends
// anything, with an error that names the address: neither a failure nor an
// absent target, and no verdict. replayed-announce from node-b's own
// address would replay nothing.
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
			err := n.Run(t.Context())
			if err == nil || errors.Is(err, ErrProbeFailed) || errors.Is(err, ErrTargetAbsent) || !strings.Contains(err.Error(), "address") {
				t.Errorf("probe %s at %v: Run error = %v, want the address refusal", tc.probe, tc.addr, err)
			}
			if v, ok := n.Verdict(); ok {
				t.Errorf("probe %s at %v: verdict %+v, want none", tc.probe, tc.addr, v)
			}
			if len(m.datagrams()) != 0 || len(m.dialsFrom()) != 0 {
				t.Errorf("probe %s at %v: sent %d datagrams and %d dials, want none", tc.probe, tc.addr, len(m.datagrams()), len(m.dialsFrom()))
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

// Each malformed announce fails to decode, within the bytes node-a reads,
// for the reason its name gives, and no other: a variant that failed
// earlier (service-count-17 as truncated) would pass a node-a that lacks
// the check it is named after.
func TestMalformedAnnouncesFailForTheirNamedReason(t *testing.T) {
	want := map[string]string{
		"truncated":           "truncated",
		"bad-magic":           "magic",
		"version-2":           "version",
		"device-id-length-0":  "device id length 0",
		"device-id-length-65": "device id length 65",
		"device-id-utf8":      "device id: invalid utf-8",
		"service-count-17":    "service count 17",
		"service-length-0":    "service 0: service name length 0",
	}
	for _, m := range malformedAnnounces() {
		if _, err := ParseReceivedAnnounce(m.Data); err == nil || !strings.Contains(err.Error(), want[m.Name]) {
			t.Errorf("%s: ParseReceivedAnnounce = %v, want an error saying %q", m.Name, err, want[m.Name])
		}
		if _, ok := want[m.Name]; !ok {
			t.Errorf("variant %s has no expected reason", m.Name)
		}
	}
	// Without the count bound, service-count-17 decodes: all 17 services
	// are whole within the receive window.
	for _, m := range malformedAnnounces() {
		if m.Name != "service-count-17" {
			continue
		}
		a, err := parseWithoutCountBound(m.Data)
		if err != nil || len(a.Services) != MaxServices+1 || a.DeviceID != "node-b" || a.Port != ProbePort {
			t.Errorf("service-count-17 without the count bound: got %q at %d, %d services, %v; want node-b at %d, %d services", a.DeviceID, a.Port, len(a.Services), err, ProbePort, MaxServices+1)
		}
	}
}

// malformed-announce claims to have seen node-a ignore only the kinds a
// dial could show learned: those that still name node-b at ProbePort. A
// kind that breaks the device id would be filed under another device, and
// node-a's dial would be the same whether it learned it or not.
func TestMalformedAnnounceVerdictClaimsWhatTheWireShows(t *testing.T) {
	visible := 0
	for _, m := range malformedAnnounces() {
		b := m.Data
		names := len(b) >= 14 && b[5] == 6 && string(b[6:12]) == "node-b" && uint16(b[12])<<8|uint16(b[13]) == ProbePort
		if names != m.NamesNodeB {
			t.Errorf("variant %s: NamesNodeB = %v, but its bytes name node-b at %d: %v", m.Name, m.NamesNodeB, ProbePort, names)
		}
		if names {
			visible++
		}
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		a := newTestNode(t, m, Config{Role: RoleA})
		prober := newTestNode(t, m, Config{Probe: "malformed-announce"})
		a.start(ctx)
		synctest.Wait()
		prober.start(ctx)
		err := prober.wait()
		cancel()
		_ = a.wait()
		want := fmt.Sprintf("node-a ignored the %d kinds of malformed announce that name node-b (the %d that break the device id,", visible, len(malformedAnnounces())-visible)
		if v, ok := prober.Verdict(); err != nil || !ok || v.Status != StatusOK || !strings.HasPrefix(v.Observed, want) {
			t.Errorf("verdict %+v, %v (Run: %v); want a pass observing %q…", v, ok, err, want)
		}
	})
}
