package vnode_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/vnode"
	"l2hub/hub"
	"l2hub/internal/vsim"
	"l2hub/internal/wallclock"
	"l2hub/packet"
)

// milestones collects the lines nodes print.
type milestones struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func (m *milestones) add(ms conformance.Milestone) {
	m.mu.Lock()
	m.lines = append(m.lines, ms.String())
	m.mu.Unlock()
	select {
	case m.ch <- ms.String():
	default:
	}
}

func (m *milestones) has(line string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.lines, func(l string) bool { return strings.HasPrefix(l, line) })
}

// TestVirtualNodesThroughTheHub runs node-a and node-b, each on its own
// netstack host, through a live hub, and waits for both to finish the
// proxy exchange.
func TestVirtualNodesThroughTheHub(t *testing.T) {
	dir := t.TempDir()
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}, Observers: []hub.Observer{sink}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hubDone := make(chan error, 1)
	go func() { hubDone <- h.Run(ctx) }()

	ms := &milestones{ch: make(chan string, 64)}
	runs := make(chan error, 2)
	for _, role := range []conformance.Role{conformance.RoleB, conformance.RoleA} {
		n, err := vnode.New(vnode.Config{Role: role, Clock: wallclock.Clock{}, OnMilestone: ms.add})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddPort(role.String(), "virtual "+role.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Attach(role.String(), n.Host); err != nil {
			t.Fatal(err)
		}
		go func() { runs <- n.Run(ctx) }()
	}

	want := []string{
		"nexus discovery ok node-a peer=node-b",
		"nexus session ok node-a",
		"nexus session ok node-b",
		"nexus mux ok node-a",
		"nexus proxy ok node-a service=samgrd",
		"nexus proxy ok node-a service=bundlemgrd",
	}
	for {
		done := true
		for _, w := range want {
			if !ms.has(w) {
				done = false
			}
		}
		if done {
			break
		}
		select {
		case <-ms.ch:
		case err := <-runs:
			if err != nil {
				t.Fatalf("a node stopped: %v; milestones so far: %q", err, ms.lines)
			}
		case <-ctx.Done():
			t.Fatalf("milestones after 60s: %q; want all of %q", ms.lines, want)
		}
	}
	t.Logf("milestones: %q", ms.lines)
	cancel()
	<-hubDone
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Written == 0 {
		t.Errorf("the capture recorded nothing: %+v", st)
	}
}

// runVirtual runs virtual node-a and node-b, built by New with a virtual
// clock and seeded stacks, through a hub core in virtual time (vsim), and
// returns their milestones stamped with the virtual time they were reached,
// and a digest of every frame they sent.
func runVirtual(t *testing.T, seed byte) ([]string, frameDigest) {
	return runVirtualWith(t, seed, nil)
}

// frameDigest is an observer that hashes every frame the hub takes in,
// with its port and virtual time: two runs that send the same frames, byte
// for byte (TCP sequence numbers, ports), at the same instants, agree.
// A TCP segment's window, and so its checksum, are left out: the window
// a stack advertises depends on how far its reader has read, which is the
// order the Go scheduler runs the stack's goroutines in (internal/vsim's
// doc), not the seed; under load two seeded runs differed in it alone.
type frameDigest struct {
	sum    [32]byte
	frames int
	buf    []byte
}

// Observe implements hub.Observer; vsim calls it on its driver only.
func (d *frameDigest) Observe(ev *hub.Event) {
	if ev.Dir != hub.Ingress {
		return
	}
	h := sha256.New()
	h.Write(d.sum[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(ev.Time.UnixNano())))
	h.Write([]byte(ev.PortName))
	d.buf = append(d.buf[:0], ev.Frame...)
	var hd packet.Headers
	packet.Parse(d.buf, &hd)
	if hd.HasPorts && hd.TCP {
		clear(d.buf[hd.L4+14 : hd.L4+18]) // window and checksum
	}
	h.Write(d.buf)
	copy(d.sum[:], h.Sum(nil))
	d.frames++
}

// runVirtualWith is runVirtual through a hub with policy p (nil: none).
func runVirtualWith(t *testing.T, seed byte, p hub.Policy) ([]string, frameDigest) {
	digest := &frameDigest{}
	sim := vsim.New(vsim.Config{Mode: hub.ModeSwitch, Policy: p, Observers: []hub.Observer{digest}})
	defer sim.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var lines []string
	runs := make(map[conformance.Role]chan error)
	for _, role := range []conformance.Role{conformance.RoleB, conformance.RoleA} {
		n, err := vnode.New(vnode.Config{
			Role:  role,
			Clock: sim.Clock,
			OnMilestone: func(m conformance.Milestone) {
				mu.Lock()
				lines = append(lines, sim.Clock.Elapsed().String()+" "+m.String())
				mu.Unlock()
			},
			StackRand: rand.NewChaCha8([32]byte{seed, byte(role)}),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Host.Close() })
		if err := sim.Attach(role.String(), n.Host.Describe(), n.Host); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		runs[role] = done
		if err := sim.Go(func() { done <- n.Run(ctx) }); err != nil {
			t.Fatal(err)
		}
	}
	// A virtual node holds its session once its script is over, as the OS
	// does; the run ends with node-a's last proxy milestone.
	var aErr error
	finished := func() bool {
		select {
		case aErr = <-runs[conformance.RoleA]:
			return true
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "nexus proxy ok node-a service=bundlemgrd") })
	}
	if err := sim.Run(finished, time.Minute); err != nil {
		t.Fatalf("%v; milestones: %q", err, lines)
	}
	if aErr != nil {
		t.Fatalf("node-a stopped: %v; milestones: %q", aErr, lines)
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lines), *digest
}

// TestVirtualNodesInVirtualTime: the virtual nodes, given the simulation's
// clock and seeded stacks, complete the run in virtual time, and a second
// run reaches every milestone at the same virtual instant and sends the
// same frames (the milestones carry no sequence number or port).
func TestVirtualNodesInVirtualTime(t *testing.T) {
	// The run repeats because internal/vsim holds the process at one
	// processor while a Sim is open, not because the test does: at two or
	// more, so that a one-processor machine tests that too.
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	first, firstFrames := runVirtual(t, 7)
	for _, w := range []string{"nexus session ok node-a", "nexus mux ok node-a", "nexus proxy ok node-a service=bundlemgrd"} {
		if !slices.ContainsFunc(first, func(l string) bool { return strings.Contains(l, w) }) {
			t.Errorf("milestones %q lack %q", first, w)
		}
	}
	again, againFrames := runVirtual(t, 7)
	if !slices.Equal(again, first) {
		t.Errorf("two runs with one seed differ:\nfirst %q\nagain %q", first, again)
	}
	if againFrames.sum != firstFrames.sum || againFrames.frames != firstFrames.frames {
		t.Errorf("two runs with one seed sent different frames: %d frames %x, then %d frames %x", firstFrames.frames, firstFrames.sum[:8], againFrames.frames, againFrames.sum[:8])
	}
}

// slowLadder delays every segment node-b sends whose TCP payload is one
// 275-byte record (node-b's ladder steps: its proxy records are 531 bytes)
// by 10s, more than the 4s a proxy reply gets.
type slowLadder struct{}

func (slowLadder) Decide(_ time.Duration, l hub.Link, f []byte, d *hub.Decision) {
	if l.FromName != conformance.RoleB.String() || len(f) < 34 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6 {
		return
	}
	ihl := int(f[14]&0x0f) * 4
	if len(f) < 14+ihl+13 {
		return
	}
	total := int(f[16])<<8 | int(f[17])
	if total-ihl-int(f[14+ihl+12]>>4)*4 == conformance.RequestRecordLen {
		d.Copies = append(d.Copies, hub.Copy{Delay: 10 * time.Second})
	}
}

// TestLadderOutlastsRetransmission: node-b's ladder steps arriving 10s
// late (a fault policy's delay, or TCP's backed-off retransmissions of
// dropped steps) do not fail the ladder, which the OS does not time (its
// waits count iterations); the run completes.
func TestLadderOutlastsRetransmission(t *testing.T) {
	lines, _ := runVirtualWith(t, 7, slowLadder{})
	for _, w := range []string{"nexus mux ok node-a", "nexus proxy ok node-a service=bundlemgrd"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
			t.Errorf("milestones %q lack %q", lines, w)
		}
	}
}

// TestVirtualNodeARedialsFromItsPort: node-a dials from 10.42.0.10:40010,
// the OS's 40000 + mac[5], and redials from the same 4-tuple after a failed
// handshake (§6.1, §6.2). The listener at node-b's address accepts and
// never answers, so each attempt ends in node-a's reply timeout, with
// node-a closing first: a graceful close there would leave the 4-tuple in
// FIN_WAIT or TIME_WAIT and the redial could not bind it.
func TestVirtualNodeARedialsFromItsPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	silent := newVirtualHost(t, conformance.RoleB.Addr())
	ln, err := silent.ListenTCP(conformance.SessionPortB)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := vnode.New(vnode.Config{Role: conformance.RoleA, Tune: func(c *conformance.Config) {
		c.DiscoveryWait = -1
		c.ReplyTimeout = 200 * time.Millisecond
		c.RetryInterval = 20 * time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Host.Close()
	startHub(t, ctx, map[string]hub.PortIO{"a": a.Host, "b": silent})
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx) }()

	want := netip.MustParseAddrPort("10.42.0.10:40010")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for len(conns) < 3 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept %d: %v (node-a stats %+v)", len(conns)+1, err, a.Stats())
		}
		conns = append(conns, c) // held open and silent
		if got := netip.MustParseAddrPort(c.RemoteAddr().String()); got != want {
			t.Errorf("connection %d from %v, want %v", len(conns), got, want)
		}
	}
	cancel()
	if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("node-a Run: %v", err)
	}
	if st := a.Stats(); st.HandshakeFailures < 2 {
		t.Errorf("node-a stats %+v, want at least two failed handshakes", st)
	}
}

// startHub runs a hub on the wall clock, with ports, until ctx ends; the
// test's cleanup waits for it to stop.
func startHub(t *testing.T, ctx context.Context, ports map[string]hub.PortIO) {
	t.Helper()
	h, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for name, io := range ports {
		if err := h.AddPort(name, name); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Attach(name, io); err != nil {
			t.Fatal(err)
		}
	}
}

// The host New builds is the role's VM on the OS's segment: its MAC
// follows the address (52:54:00:12:34:<last byte>) and its prefix is the
// segment's /24; a replayer sits at ThirdAddr.
func TestVirtualHostIsTheRolesVM(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  vnode.Config
		want string
	}{
		{"node-a", vnode.Config{Role: conformance.RoleA}, "netstack 52:54:00:12:34:0a 10.42.0.10/24"},
		{"node-b", vnode.Config{Role: conformance.RoleB}, "netstack 52:54:00:12:34:0b 10.42.0.11/24"},
		{"replayer", vnode.Config{Role: conformance.RoleB, Probe: "replayed-announce"}, "netstack 52:54:00:12:34:0c 10.42.0.12/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := vnode.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Host.Close()
			if got := n.Host.Describe(); got != tc.want {
				t.Errorf("got Describe() = %q, want %q", got, tc.want)
			}
		})
	}
}
