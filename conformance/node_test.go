package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"l2hub/hub"
	"l2hub/internal/syncbuf"
	"l2hub/internal/wallclock"
)

// Node tests run in a synctest bubble: the system's timers, which
// wallclock.Clock uses, follow the bubble's virtual clock, so announce
// cadence, retries and windows are deterministic and the tests take no
// wall time.
var bubbleClock = wallclock.Clock{}

var (
	addrA  = RoleA.Addr()
	addrB  = RoleB.Addr()
	addrC  = netip.AddrFrom4([4]byte{10, 42, 0, 12})
	groupP = netip.AddrPortFrom(DiscoveryGroup, DiscoveryPort)
)

// milestoneLog collects one node's milestones.
type milestoneLog struct {
	mu sync.Mutex
	ms []Milestone
}

func (l *milestoneLog) add(m Milestone) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ms = append(l.ms, m)
}

func (l *milestoneLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.ms {
		out = append(out, m.String())
	}
	return out
}

func (l *milestoneLog) has(prefix string) bool {
	return slices.ContainsFunc(l.lines(), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// testNode is a node under test with its milestone log and result.
type testNode struct {
	*Node
	log  *milestoneLog
	err  error
	done chan struct{}
}

func newTestNode(t *testing.T, m *memNet, cfg Config) *testNode {
	t.Helper()
	tn := &testNode{log: &milestoneLog{}, done: make(chan struct{})}
	cfg.Clock = bubbleClock
	if cfg.Net == nil {
		addr := cfg.Addr
		if !addr.IsValid() {
			role := cfg.Role
			if role == 0 {
				p, _ := LookupProbe(cfg.Probe)
				role = p.Plays
			}
			addr = role.Addr()
		}
		cfg.Net = m.host(addr)
	}
	cfg.OnMilestone = tn.log.add
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	tn.Node = n
	return tn
}

func (tn *testNode) start(ctx context.Context) {
	go func() {
		defer close(tn.done)
		tn.err = tn.Run(ctx)
	}()
}

func (tn *testNode) wait() error {
	<-tn.done
	return tn.err
}

func TestNodesHealthyRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		a := newTestNode(t, m, Config{Role: RoleA})
		b := newTestNode(t, m, Config{Role: RoleB})
		b.start(ctx)
		// node-b is up and its first unicast announce lost (node-a had no
		// socket yet); node-a learns node-b from the second, at 64 ms.
		synctest.Wait()
		a.start(ctx)
		if err := a.wait(); err != nil {
			t.Fatalf("node-a Run: %v\n%s", err, strings.Join(a.log.lines(), "\n"))
		}
		if err := b.wait(); err != nil {
			t.Fatalf("node-b Run: %v\n%s", err, strings.Join(b.log.lines(), "\n"))
		}

		wantA := []string{
			"nexus session ok node-a peer=node-b via=discovery target=10.42.0.11:34568",
			"nexus mux ok node-a peer=node-b",
			"nexus proxy ok node-a service=samgrd",
			"nexus proxy ok node-a service=bundlemgrd",
		}
		wantB := []string{
			"nexus session ok node-b peer=node-a",
			"nexus mux ok node-b peer=node-a",
			"nexus proxy ok node-b service=samgrd",
			"nexus proxy ok node-b service=bundlemgrd",
		}
		discA := []string{"nexus announce ok node-a to=239.42.0.1:37020,10.42.0.11:37020", "nexus discovery ok node-a peer=node-b addr=10.42.0.11:34568"}
		discB := []string{"nexus announce ok node-b to=239.42.0.1:37020,10.42.0.10:37020", "nexus discovery ok node-b peer=node-a addr=10.42.0.10:34567"}
		checkMilestones(t, "node-a", a.log.lines(), discA, wantA)
		checkMilestones(t, "node-b", b.log.lines(), discB, wantB)

		vs := loadVectors(t)
		streams := m.allStreams()
		if len(streams) != 1 {
			t.Fatalf("got %d TCP streams, want 1", len(streams))
		}
		st := streams[0]
		if st.client.Addr() != addrA || st.server != netip.AddrPortFrom(addrB, SessionPortB) {
			t.Errorf("stream %v -> %v, want 10.42.0.10:* -> 10.42.0.11:34568", st.client, st.server)
		}
		c2s, s2c := st.bytes()
		wantC2S := slices.Concat(vs.bytes(t, "nexus.msg1"), vs.bytes(t, "nexus.msg3"),
			vs.bytes(t, "nexus.rec01.a2b.n0.mux_open_batch.cipher"), vs.bytes(t, "nexus.rec03.a2b.n1.mux_data_batch.cipher"),
			vs.bytes(t, "nexus.rec05.a2b.n2.mux_final_sync.cipher"), vs.bytes(t, "nexus.rec07.a2b.n3.proxy_req_svc1_sm_resolve.cipher"),
			vs.bytes(t, "nexus.rec09.a2b.n4.proxy_req_svc2_bn_list.cipher"))
		wantS2C := slices.Concat(vs.bytes(t, "nexus.msg2"),
			vs.bytes(t, "nexus.rec02.b2a.n0.mux_open_ack_batch.cipher"), vs.bytes(t, "nexus.rec04.b2a.n1.mux_data_echo_batch.cipher"),
			vs.bytes(t, "nexus.rec06.b2a.n2.mux_final_ack.cipher"), vs.bytes(t, "nexus.rec08.b2a.n3.proxy_rsp_sm_ok.cipher"),
			vs.bytes(t, "nexus.rec10.b2a.n4.proxy_rsp_bn_list_ok.cipher"))
		compareStream(t, "node-a -> node-b", c2s, wantC2S)
		compareStream(t, "node-b -> node-a", s2c, wantS2C)

		// Announces: multicast then unicast from <own IP>:37020, the exact
		// vector payload, and none once the session's stream exists.
		for _, tc := range []struct {
			role Role
			vec  string
		}{{RoleA, "nxsb.node-a"}, {RoleB, "nxsb.node-b"}} {
			from := netip.AddrPortFrom(tc.role.Addr(), DiscoveryPort)
			var sent []memDatagram
			for _, d := range m.datagrams() {
				if d.from == from {
					sent = append(sent, d)
				}
			}
			want := vs.bytes(t, tc.vec)
			if len(sent) < 2 || sent[0].to != groupP || sent[1].to != netip.AddrPortFrom(tc.role.Peer().Addr(), DiscoveryPort) {
				t.Errorf("%v: first datagrams %v, want to the group then to the peer", tc.role, sent)
				continue
			}
			for _, d := range sent {
				if !bytes.Equal(d.data, want) {
					t.Errorf("%v: announce %x, want %s", tc.role, d.data, tc.vec)
				}
				if d.seq > st.seq {
					t.Errorf("%v: announce #%d sent after the session stream (#%d) opened", tc.role, d.seq, st.seq)
				}
			}
		}
		if s := b.Stats(); s.ProxyServed != 2 || s.RecordsRejected != 0 || s.AnnouncesLearned == 0 {
			t.Errorf("node-b stats %+v, want 2 served, 0 rejected, some announces learned", s)
		}
		if s := a.Stats(); s.Dials != 1 || s.HandshakeFailures != 0 {
			t.Errorf("node-a stats %+v, want 1 dial and no handshake failure", s)
		}
	})
}

// checkMilestones requires the discovery lines (in any order, first) and
// then exactly the session lines in order.
func checkMilestones(t *testing.T, who string, got, disc, rest []string) {
	t.Helper()
	if len(got) != len(disc)+len(rest) {
		t.Errorf("%s milestones:\n%s\nwant %d lines", who, strings.Join(got, "\n"), len(disc)+len(rest))
		return
	}
	head := slices.Clone(got[:len(disc)])
	slices.Sort(head)
	want := slices.Clone(disc)
	slices.Sort(want)
	if !slices.Equal(head, want) || !slices.Equal(got[len(disc):], rest) {
		t.Errorf("%s milestones:\n%s\nwant (first two in any order):\n%s", who, strings.Join(got, "\n"), strings.Join(append(disc, rest...), "\n"))
	}
}

// compareStream reports the first differing message position rather than
// two hex blobs.
func compareStream(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: %d bytes, want %d; first difference at offset %d (%s)", what, len(got), len(want), i, streamPosition(what, i))
}

// streamPosition names the message an offset falls in.
func streamPosition(what string, off int) string {
	sizes := []int{NexusMsg1Len, NexusMsg3Len, RequestRecordLen, RequestRecordLen, RequestRecordLen, RequestRecordLen, RequestRecordLen}
	names := []string{"msg1", "msg3", "rec01", "rec03", "rec05", "rec07", "rec09"}
	if strings.HasPrefix(what, "node-b") {
		sizes = []int{NexusMsg2Len, RequestRecordLen, RequestRecordLen, RequestRecordLen, ResponseRecordLen, ResponseRecordLen}
		names = []string{"msg2", "rec02", "rec04", "rec06", "rec08", "rec10"}
	}
	for i, n := range sizes {
		if off < n {
			return fmt.Sprintf("%s byte %d", names[i], off)
		}
		off -= n
	}
	return "beyond the expected transcript"
}

// With every announce lost, node-a waits DiscoveryWait and dials the
// hard-coded fallback: a session does not need discovery (§2.4).
func TestNodeFallbackWithoutDiscovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		m.dropUDP = func(memDatagram) bool { return true }
		a := newTestNode(t, m, Config{Role: RoleA})
		b := newTestNode(t, m, Config{Role: RoleB})
		b.start(ctx)
		start := time.Now() // the bubble's virtual clock
		a.start(ctx)
		if err := a.wait(); err != nil {
			t.Fatalf("node-a Run: %v", err)
		}
		if err := b.wait(); err != nil {
			t.Fatalf("node-b Run: %v", err)
		}
		if !a.log.has("nexus session ok node-a peer=node-b via=fallback target=10.42.0.11:34568") {
			t.Errorf("node-a milestones:\n%s\nwant a fallback session", strings.Join(a.log.lines(), "\n"))
		}
		if a.log.has("nexus discovery") || b.log.has("nexus discovery") {
			t.Errorf("discovery milestones with every announce lost")
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("node-a finished after %v, want at least DiscoveryWait (1s)", took)
		}
	})
}

// node-a retries while node-b is not listening yet, and announces resume
// between attempts (§2.2); the OS-timing mode dials without waiting.
func TestNodeARetriesUntilBListens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		a := newTestNode(t, m, Config{Role: RoleA, DiscoveryWait: -1})
		a.start(ctx)
		time.Sleep(500 * time.Millisecond) // virtual: node-a dials and fails for half a second
		b := newTestNode(t, m, Config{Role: RoleB})
		b.start(ctx)
		if err := a.wait(); err != nil {
			t.Fatalf("node-a Run: %v", err)
		}
		if err := b.wait(); err != nil {
			t.Fatalf("node-b Run: %v", err)
		}
		s := a.Stats()
		if s.DialFailures < 5 || s.Dials != s.DialFailures+1 {
			t.Errorf("node-a stats %+v, want several refused dials and one success", s)
		}
		if s.AnnouncesSent < 5 {
			t.Errorf("node-a sent %d announce rounds while retrying, want at least 5 (64 ms cadence)", s.AnnouncesSent)
		}
		// The OS dials from 40000 + mac[5] and redials from the same
		// port (§6.1, §6.2).
		want := netip.MustParseAddrPort("10.42.0.10:40010")
		dials := m.dialsFrom()
		if len(dials) != int(s.Dials) {
			t.Errorf("memnet saw %d dials, node-a counted %d", len(dials), s.Dials)
		}
		for i, d := range dials {
			if d != want {
				t.Errorf("dial %d of %d from %v, want %v", i+1, len(dials), d, want)
			}
		}
		for _, st := range m.allStreams() {
			if st.client != want {
				t.Errorf("session connection from %v, want %v", st.client, want)
			}
		}
	})
}

// node-b accepts one connection per boot (§6.2): after a failed handshake
// it is unreachable, but announces again (§2.2) until it is stopped.
func TestNodeBAcceptsOneConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		logs := &syncbuf.Buffer{}
		b := newTestNode(t, m, Config{Role: RoleB, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		b.start(ctx)
		synctest.Wait()
		client := m.host(addrA)
		target := netip.AddrPortFrom(addrB, SessionPortB)
		c, err := client.DialTCP(ctx, netip.AddrPortFrom(addrA, 0), target)
		if err != nil {
			t.Fatalf("first dial: %v", err)
		}
		if _, err := c.Write(bytes.Repeat([]byte{0xee}, 31)); err != nil {
			t.Fatal(err)
		}
		c.Close() // 31 bytes, then FIN: msg1 is truncated
		synctest.Wait()
		if !b.log.has("nexus session fail node-b peer=node-a") {
			t.Errorf("node-b milestones:\n%s\nwant a session failure", strings.Join(b.log.lines(), "\n"))
		}
		if got := logs.String(); !strings.Contains(got, "level=INFO") || !strings.Contains(got, "accepts no connection until restarted") {
			t.Errorf("node-b's log:\n%s\nwant an info that it accepts no connection until restarted (serve --peer says only this)", got)
		}
		before := b.Stats().AnnouncesSent
		time.Sleep(640 * time.Millisecond) // virtual: ten announce periods
		if got := b.Stats().AnnouncesSent - before; got < 5 {
			t.Errorf("node-b sent %d announce rounds in the 640 ms after its failed handshake, want its announces resumed (64 ms cadence, §2.2)", got)
		}
		select {
		case <-b.done:
			t.Errorf("node-b Run returned %v after its failed handshake, want it announcing until stopped", b.err)
		default:
		}
		if _, err := client.DialTCP(ctx, netip.AddrPortFrom(addrA, 0), target); !errors.Is(err, errRefused) {
			t.Errorf("second dial error = %v, want connection refused", err)
		}
		cancel()
		if err := b.wait(); err == nil || !strings.Contains(err.Error(), "hs resp read msg1") {
			t.Errorf("node-b Run error = %v, want a msg1 read failure", err)
		}
	})
}

// Discovery learning as built: source address plus announced port, the
// last announce wins (no replay protection), malformed and oversized
// datagrams are counted and ignored.
func TestNodeDiscoveryLearning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		m := newMemNet()
		a := newTestNode(t, m, Config{Role: RoleA, DiscoveryWait: time.Hour})
		a.start(ctx)
		synctest.Wait()
		to := netip.AddrPortFrom(addrA, DiscoveryPort)
		genuine, _ := RoleB.Announce().MarshalBinary()
		spoof := RoleB.Announce()
		spoof.Static = [32]byte{1}
		spoofed, _ := spoof.MarshalBinary()
		padTo := func(b []byte, n int) []byte { return append(bytes.Clone(b), make([]byte, n-len(b))...) }
		steps := []struct {
			name      string
			from      netip.Addr
			data      []byte
			wantAddr  netip.Addr
			wantKey   [32]byte
			wantStats Stats
		}{
			{"genuine", addrB, genuine, addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 1}},
			{"duplicate", addrB, genuine, addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 2}},
			{"malformed", addrC, genuine[:20], addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 2, AnnouncesMalformed: 1}},
			{"over-512-bytes", addrC, append(bytes.Clone(genuine), make([]byte, 500)...), addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 2, AnnouncesMalformed: 1, AnnouncesDropped: 1}},
			{"trailing-within-512", addrB, append(bytes.Clone(genuine), make([]byte, 300)...), addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 3, AnnouncesMalformed: 1, AnnouncesDropped: 1}},
			// The drop is for datagrams above DatagramDropThreshold.
			{"exactly-512-bytes", addrB, padTo(genuine, DatagramDropThreshold), addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 4, AnnouncesMalformed: 1, AnnouncesDropped: 1}},
			{"513-bytes", addrC, padTo(genuine, DatagramDropThreshold+1), addrB, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 4, AnnouncesMalformed: 1, AnnouncesDropped: 2}},
			{"replay-from-elsewhere", addrC, genuine, addrC, RoleB.StaticKey().Public, Stats{AnnouncesLearned: 5, AnnouncesMalformed: 1, AnnouncesDropped: 2}},
			{"unpinned-key", addrC, spoofed, addrC, [32]byte{1}, Stats{AnnouncesLearned: 6, AnnouncesMalformed: 1, AnnouncesDropped: 2}},
		}
		for _, s := range steps {
			m.inject(netip.AddrPortFrom(s.from, DiscoveryPort), to, s.data)
			synctest.Wait()
			e, ok := a.Peer("node-b")
			if !ok || e.Addr != s.wantAddr || e.Static != s.wantKey || e.Port != SessionPortB {
				t.Errorf("%s: Peer(node-b) = %+v, %v; want %v:34568 key %x", s.name, e, ok, s.wantAddr, s.wantKey[:4])
			}
			got := a.Stats()
			got.AnnouncesSent, got.Dials, got.DialFailures = 0, 0, 0
			if got != s.wantStats {
				t.Errorf("%s: stats %+v, want %+v", s.name, got, s.wantStats)
			}
		}
		if !a.log.has("nexus discovery fail node-a peer=node-b addr=10.42.0.12:34568 key=unpinned") {
			t.Errorf("milestones:\n%s\nwant the unpinned-key discovery", strings.Join(a.log.lines(), "\n"))
		}
		cancel()
		if err := a.wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	})
}

func TestPeerCacheLRU(t *testing.T) {
	var c peerCache
	for i := range 17 {
		c.insert(PeerEntry{DeviceID: fmt.Sprintf("dev%d", i)})
	}
	if _, ok := c.peek("dev0"); ok {
		t.Errorf("dev0 survived 17 inserts into a 16-entry cache")
	}
	if changed := c.insert(PeerEntry{DeviceID: "dev1"}); changed {
		t.Errorf("re-inserting an identical entry reported a change")
	}
	c.insert(PeerEntry{DeviceID: "dev17"})
	if _, ok := c.peek("dev1"); !ok {
		t.Errorf("dev1 was evicted although it was refreshed")
	}
	if _, ok := c.peek("dev2"); ok {
		t.Errorf("dev2 survived although it was the least recent")
	}
	if changed := c.insert(PeerEntry{DeviceID: "dev1", Port: 9}); !changed {
		t.Errorf("a new port was not reported as a change")
	}
}

func TestNewNodeValidates(t *testing.T) {
	m := newMemNet()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no-role", Config{Net: m.host(addrA), Clock: bubbleClock}},
		{"no-net", Config{Role: RoleA, Clock: bubbleClock}},
		{"no-clock", Config{Role: RoleA, Net: m.host(addrA)}},
		{"ipv6", Config{Role: RoleA, Net: m.host(addrA), Clock: bubbleClock, Addr: netip.IPv6Loopback()}},
		{"unknown-probe", Config{Net: m.host(addrA), Clock: bubbleClock, Probe: "nope"}},
		{"probe-role-mismatch", Config{Role: RoleB, Net: m.host(addrA), Clock: bubbleClock, Probe: "wrong-msg1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewNode(tt.cfg); err == nil {
				t.Errorf("NewNode succeeded, want an error")
			}
		})
	}
}

func TestMilestoneString(t *testing.T) {
	m := Milestone{Role: RoleA, Name: MilestoneSession, Status: StatusOK, Detail: "peer=node-b"}
	if got, want := m.String(), "nexus session ok node-a peer=node-b"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	m = Milestone{Role: RoleB, Name: MilestoneProxy, Status: StatusDenied, Detail: "service=unknown"}
	if got, want := m.String(), "nexus proxy denied node-b service=unknown"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// blockingBackend never answers until release is closed: node-b holds a
// request, as a backend that hangs does.
type blockingBackend struct{ release chan struct{} }

func (b blockingBackend) Serve(byte, []byte) ([]byte, bool) {
	<-b.release
	return nil, false
}

// A node stopped mid-handshake, mid-ladder or mid-request reports no
// failure: the step was cut short, it did not fail.
func TestStoppedNodeReportsNoFailure(t *testing.T) {
	// handshakeA dials node-b as node-a would and walks the handshake up to
	// (not including) msg3 when toMsg3 is false, and then the first ladder
	// step when it is true; it then holds the connection until ctx ends.
	handshakeA := func(ctx context.Context, t *testing.T, m *memNet, toMsg3 bool) {
		c, err := m.host(addrA).DialTCP(ctx, netip.AddrPortFrom(addrA, DialPort(10)), netip.AddrPortFrom(addrB, SessionPortB))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			hs := NewNexusInitiator(BringUpNexusConfig(RoleA))
			m1, _ := hs.WriteMsg1()
			m2 := make([]byte, NexusMsg2Len)
			if _, err := c.Write(m1); err != nil {
				return
			}
			if _, err := io.ReadFull(c, m2); err != nil {
				return
			}
			if toMsg3 {
				if err := hs.ReadMsg2(m2); err != nil {
					return
				}
				m3, _ := hs.WriteMsg3()
				if _, err := c.Write(m3); err != nil {
					return
				}
			}
			<-ctx.Done()
		}()
	}
	answered := func(m *memNet) int { // what node-b sent on the first connection
		if st := m.allStreams(); len(st) > 0 {
			_, s2c := st[0].bytes()
			return len(s2c)
		}
		return 0
	}
	tests := []struct {
		name    string
		node    Config
		setup   func(ctx context.Context, t *testing.T, m *memNet) (cleanup func())
		reached func(n *testNode, m *memNet) bool // the node is where the test stops it
	}{
		{"node-a-waits-for-msg2", Config{Role: RoleA, DiscoveryWait: -1}, func(ctx context.Context, t *testing.T, m *memNet) func() {
			ln, err := m.host(addrB).ListenTCP(netip.AddrPortFrom(addrB, SessionPortB))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
			return func() { ln.Close() }
		}, func(n *testNode, m *memNet) bool { return n.Stats().Dials == 1 && n.Stats().DialFailures == 0 }},
		{"node-b-waits-for-msg3", Config{Role: RoleB}, func(ctx context.Context, t *testing.T, m *memNet) func() {
			handshakeA(ctx, t, m, false)
			return func() {}
		}, func(n *testNode, m *memNet) bool { return answered(m) == NexusMsg2Len }},
		{"node-b-waits-for-ladder", Config{Role: RoleB}, func(ctx context.Context, t *testing.T, m *memNet) func() {
			handshakeA(ctx, t, m, true)
			return func() {}
		}, func(n *testNode, m *memNet) bool {
			return n.log.has("nexus session ok node-b") && !n.log.has("nexus mux")
		}},
		{"node-a-waits-for-reply", Config{Role: RoleA}, func(ctx context.Context, t *testing.T, m *memNet) func() {
			release := make(chan struct{})
			b := newTestNode(t, m, Config{Role: RoleB, Backend: blockingBackend{release}})
			b.start(ctx)
			return func() { close(release); _ = b.wait() }
		}, func(n *testNode, m *memNet) bool {
			return n.log.has("nexus mux ok node-a") && !n.log.has("nexus proxy")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				m := newMemNet()
				peerCtx, stopPeer := context.WithCancel(t.Context())
				defer stopPeer()
				n := newTestNode(t, m, tt.node)
				if n.role == RoleB {
					n.start(ctx)
					synctest.Wait()
				}
				cleanup := tt.setup(peerCtx, t, m)
				if n.role == RoleA {
					synctest.Wait()
					n.start(ctx)
				}
				time.Sleep(2 * time.Second) // inside every wait the step has (4 s and more)
				synctest.Wait()
				if !tt.reached(n, m) {
					t.Errorf("the node is not where the test stops it:\n%s", strings.Join(n.log.lines(), "\n"))
				}
				cancel()
				_ = n.wait()
				stopPeer()
				cleanup()
				for _, l := range n.log.lines() {
					if strings.Contains(l, " fail ") {
						t.Errorf("milestone %q after a stop, want none that reports a failure\n%s", l, strings.Join(n.log.lines(), "\n"))
					}
				}
			})
		})
	}
}

// closeHookNet is a Net whose TCP connections, dialled or accepted, call
// onClose when they are first closed, before they close.
type closeHookNet struct {
	Net
	onClose func()
}

func (h closeHookNet) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	c, err := h.Net.DialTCP(ctx, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return &closeHookConn{Conn: c, onClose: h.onClose}, nil
}

func (h closeHookNet) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	ln, err := h.Net.ListenTCP(laddr)
	if err != nil {
		return nil, err
	}
	return closeHookListener{ln, h.onClose}, nil
}

type closeHookListener struct {
	net.Listener
	onClose func()
}

func (l closeHookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &closeHookConn{Conn: c, onClose: l.onClose}, nil
}

type closeHookConn struct {
	net.Conn
	once    sync.Once
	onClose func()
}

func (c *closeHookConn) Close() error {
	c.once.Do(c.onClose)
	return c.Conn.Close()
}

// A session attempt that failed just before the node stopped is reported:
// only a step the stop cut short is not. Here node-a's identity check
// fails, and the node is stopped as it closes the connection, before it
// reports the failure.
func TestFailureAsNodeStopsIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		actx, stopA := context.WithCancel(ctx)
		a := newTestNode(t, m, Config{Role: RoleA, Net: closeHookNet{Net: m.host(addrA), onClose: stopA}})
		spoofer := newTestNode(t, m, Config{Probe: "spoofed-key-announce"})
		a.start(actx)
		synctest.Wait()
		spoofer.start(ctx)
		_ = a.wait()
		cancel()
		_ = spoofer.wait()
		if !a.log.has(`nexus session fail node-a peer=node-b err="identity mismatch peer=crossvm"`) {
			t.Errorf("node-a milestones:\n%s\nwant the identity mismatch it hit before it was stopped", strings.Join(a.log.lines(), "\n"))
		}
	})
}

// pendingClock is a Clock that counts its timers that have neither fired
// nor been stopped.
type pendingClock struct {
	hub.Clock
	mu      sync.Mutex
	pending int
}

func (c *pendingClock) AfterFunc(d time.Duration, f func()) hub.Timer {
	pt := &pendingTimer{c: c}
	c.mu.Lock()
	c.pending++
	c.mu.Unlock()
	pt.t = c.Clock.AfterFunc(d, func() {
		if pt.settle() {
			f()
		}
	})
	return pt
}

func (c *pendingClock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

type pendingTimer struct {
	c       *pendingClock
	t       hub.Timer
	settled bool // fired or stopped; guarded by c.mu
}

// settle marks the timer no longer pending and reports whether it was.
func (pt *pendingTimer) settle() bool {
	pt.c.mu.Lock()
	defer pt.c.mu.Unlock()
	if pt.settled {
		return false
	}
	pt.settled = true
	pt.c.pending--
	return true
}

func (pt *pendingTimer) Stop() bool {
	return pt.t.Stop() && pt.settle()
}

func (pt *pendingTimer) Reset(time.Duration) bool { panic("pendingTimer: Reset is not used by Node") }

// A node leaves no timer behind when Run returns: the waits that ended
// first (BootWait, the probe window, a reply window, the announce cadence)
// stopped theirs.
func TestNodeLeavesNoTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m := newMemNet()
		node := func(cfg Config, clock *pendingClock) *testNode {
			tn := &testNode{log: &milestoneLog{}, done: make(chan struct{})}
			cfg.Clock, cfg.OnMilestone = clock, tn.log.add
			n, err := NewNode(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tn.Node = n
			return tn
		}
		aClock, pClock := &pendingClock{Clock: bubbleClock}, &pendingClock{Clock: bubbleClock}
		actx, stopA := context.WithCancel(ctx)
		a := node(Config{Role: RoleA, Net: m.host(addrA)}, aClock)
		prober := node(Config{Probe: "spoofed-key-announce", Net: m.host(addrB)}, pClock)
		a.start(actx)
		synctest.Wait()
		prober.start(ctx)
		if err := prober.wait(); err != nil {
			t.Fatalf("probe Run: %v", err)
		}
		stopA()
		_ = a.wait()
		if n := pClock.count(); n != 0 {
			t.Errorf("the probe left %d timers pending after Run returned, want none", n)
		}
		if n := aClock.count(); n != 0 {
			t.Errorf("node-a left %d timers pending after Run returned, want none", n)
		}
	})
}
