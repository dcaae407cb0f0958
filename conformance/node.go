package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// A Node: its Config and defaults, Run, which plays a script (the honest
// roles, node_roles.go, or a probe, probe.go), and the waits every script
// makes on the injected clock (after, wait, within). The announces are in
// node_discovery.go; the handshake, records and ladder in node_session.go;
// the types of its API in node_api.go.

// Config configures a Node. Role, Net and Clock are required.
type Config struct {
	Role Role
	Net  Net
	// Clock is the node's only notion of time: every wait (announce
	// cadence, retries, reply windows) is one of its timers. Live nodes
	// take the wall clock; tests a synctest bubble's (wallclock.Clock's
	// timers follow it) or a simulation's virtual clock.
	Clock hub.Clock

	// Addr is the node's own IPv4 address; default Role.Addr(). The role
	// does not follow from it here: a probe may play node-b from 10.42.0.12.
	Addr netip.Addr
	// Peer is the unicast announce target and node-a's fallback dial
	// address, both hard-coded in the OS; default Role.Peer().Addr().
	Peer netip.Addr
	// DialPort is node-a's TCP source port, the same on every dial and
	// redial as in the OS (§6.1, §6.2); default DialPort(the last byte of
	// Addr), since the OS's static rule makes that byte mac[5] (§1):
	// 10.42.0.10:40010.
	DialPort uint16

	// Ephemeral replaces the bring-up ephemeral (the zero value keeps it,
	// as the OS does on every boot and retry).
	Ephemeral KeyPair

	// AnnounceInterval is the announce cadence until a session exists;
	// default 64 ms, the OS's nominal period.
	AnnounceInterval time.Duration
	// RetryInterval separates node-a's dial and handshake attempts;
	// default 64 ms.
	RetryInterval time.Duration
	// DiscoveryWait is how long node-a waits for node-b's announce before
	// dialling; default 1 s, after which it dials the fallback
	// 10.42.0.11:34568. The OS dials on its first pass: set a negative
	// value for that timing (a session then needs no discovery).
	DiscoveryWait time.Duration
	// ReplyTimeout bounds each wait for a handshake message or a proxy
	// record the peer owes; default 4 s, node-a's retry window in the OS.
	ReplyTimeout time.Duration
	// LadderTimeout bounds each wait for the peer's mux ladder step;
	// default 30 s. The OS gives the ladder no time window (its waits
	// count iterations, nexus-wire.md §6.2), and a step a fault policy
	// dropped twice comes back only after TCP's backed-off retransmission
	// timeouts (3 s, then 6 s, after a lost SYN), which 4 s cut short.
	LadderTimeout time.Duration
	// ProbeWindow is how long a probe watches for a reaction (a dial, a
	// reply) before concluding there is none; default 2 s. A probe playing
	// node-b starts watching only once it has heard node-a.
	ProbeWindow time.Duration
	// BootWait bounds how long a probe playing node-b waits to hear node-a's
	// first announce before it gives up, its target absent (StatusAbsent,
	// "node-a never appeared": nothing was tested); default
	// 10 min, since a VM started after the hub (§7.1) spends its DHCP window
	// and its boot before dsoftbusd announces. Negative: until ctx ends.
	BootWait time.Duration

	// Requests are node-a's proxy requests after the ladder; default
	// BringUpRequests().
	Requests []ProxyRequest
	// Backend answers node-b's forwarded requests; default BringUpBackend{}.
	Backend Backend
	// Hold keeps node-a's session open after its requests until ctx ends,
	// as the OS does; by default Run returns once they are answered.
	Hold bool

	// Probe selects a hostile variant by name (see Probes); "" plays the
	// role honestly. Role must be the probe's Plays role or zero.
	Probe string

	// OnMilestone receives each milestone; calls are serialised and must
	// not block for long. With it, the Logger has milestones at DEBUG
	// only: the callback is where they are reported.
	OnMilestone func(Milestone)
	// Logger receives diagnostics; default discards.
	Logger *slog.Logger
}

// Node is a virtual DSoftBus node playing node-a or node-b (or a probe)
// per nexus-wire.md §2–§6. Create it with NewNode and call Run once.
type Node struct {
	cfg   Config
	role  Role
	log   *slog.Logger
	probe *Probe

	peers     peerCache
	learned   chan struct{} // closed when the peer's id is first learned
	learnOnce sync.Once
	connected atomic.Bool // a TCP connection exists (or is being dialled): announces pause
	// announceMu orders an announce round against a dial: a round sends
	// only while no connection exists, and a dial waits for a round that
	// is sending, so no announce follows the session's connection.
	announceMu sync.Mutex
	announced  atomic.Bool
	ran        atomic.Bool
	verdict    atomic.Pointer[ProbeVerdict]
	deaf       string // why a probe cannot hear its target's announces ("": it can)

	msMu        sync.Mutex
	lastFailure string // last session-fail detail, to report each reason once

	st struct {
		announcesSent, announceSendErrors, announcesLearned, announcesMalformed,
		announcesDropped, dials, dialFailures, handshakeFailures, recordsRejected,
		proxyServed, proxyDenied, proxyDropped atomic.Uint64
	}
}

// NewNode validates cfg and fills its defaults.
func NewNode(cfg Config) (*Node, error) {
	var probe *Probe
	if cfg.Probe != "" {
		p, ok := LookupProbe(cfg.Probe)
		if !ok {
			return nil, fmt.Errorf("conformance: unknown probe %q", cfg.Probe)
		}
		if cfg.Role == 0 {
			cfg.Role = p.Plays
		}
		if cfg.Role != p.Plays {
			return nil, fmt.Errorf("conformance: probe %q plays %v, not %v", p.Name, p.Plays, cfg.Role)
		}
		probe = &p
	}
	switch {
	case cfg.Role != RoleA && cfg.Role != RoleB:
		return nil, errors.New("conformance: Config.Role must be RoleA or RoleB")
	case cfg.Net == nil:
		return nil, errors.New("conformance: Config.Net is required")
	case cfg.Clock == nil:
		return nil, errors.New("conformance: Config.Clock is required")
	}
	if !cfg.Addr.IsValid() {
		cfg.Addr = cfg.Role.Addr()
	}
	if !cfg.Peer.IsValid() {
		cfg.Peer = cfg.Role.Peer().Addr()
	}
	if !cfg.Addr.Is4() || !cfg.Peer.Is4() {
		return nil, fmt.Errorf("conformance: addresses must be IPv4, got %v and %v", cfg.Addr, cfg.Peer)
	}
	if cfg.DialPort == 0 {
		cfg.DialPort = DialPort(cfg.Addr.As4()[3])
	}
	if cfg.Ephemeral == (KeyPair{}) {
		cfg.Ephemeral = cfg.Role.EphemeralKey()
	}
	defaultDuration(&cfg.AnnounceInterval, 64*time.Millisecond)
	defaultDuration(&cfg.RetryInterval, 64*time.Millisecond)
	defaultDuration(&cfg.DiscoveryWait, time.Second)
	defaultDuration(&cfg.ReplyTimeout, 4*time.Second)
	defaultDuration(&cfg.LadderTimeout, 30*time.Second)
	defaultDuration(&cfg.ProbeWindow, 2*time.Second)
	defaultDuration(&cfg.BootWait, 10*time.Minute)
	if cfg.Requests == nil {
		cfg.Requests = BringUpRequests()
	}
	if cfg.Backend == nil {
		cfg.Backend = BringUpBackend{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, role: cfg.Role, probe: probe, learned: make(chan struct{})}
	n.log = log.With("node", cfg.Role.String(), "addr", cfg.Addr.String())
	return n, nil
}

func defaultDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Stats returns a snapshot of the node's counters; safe to call at any time.
func (n *Node) Stats() Stats {
	s := &n.st
	return Stats{
		AnnouncesSent: s.announcesSent.Load(), AnnounceSendErrors: s.announceSendErrors.Load(),
		AnnouncesLearned: s.announcesLearned.Load(), AnnouncesMalformed: s.announcesMalformed.Load(),
		AnnouncesDropped: s.announcesDropped.Load(), Dials: s.dials.Load(), DialFailures: s.dialFailures.Load(),
		HandshakeFailures: s.handshakeFailures.Load(), RecordsRejected: s.recordsRejected.Load(),
		ProxyServed: s.proxyServed.Load(), ProxyDenied: s.proxyDenied.Load(), ProxyDropped: s.proxyDropped.Load(),
	}
}

// Peer returns the discovery cache entry for a device id.
func (n *Node) Peer(deviceID string) (PeerEntry, bool) { return n.peers.peek(deviceID) }

// Run plays the node until its script completes, it fails, or ctx ends.
//
// node-a: announce, learn, dial (discovery or fallback), handshake, ladder,
// send Requests; retries dial and handshake without limit, like the OS.
// node-b: listen on 34568, announce, accept ONE connection (the listener is
// closed after it, as the OS never re-arms it, §6.2), handshake, ladder, then
// answer requests until the peer closes. After a failed handshake it
// announces again, unreachable, until ctx ends (§2.2).
//
// Run returns nil when the script completed (for a probe: when the target
// behaved as the probe expects; otherwise an error wrapping ErrProbeFailed,
// or ErrTargetAbsent when the target never appeared). A verdict reached as
// ctx ends is kept (Verdict), and Run then returns as it would have.
func (n *Node) Run(ctx context.Context) error {
	if !n.ran.CompareAndSwap(false, true) {
		return errors.New("conformance: Node.Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	udp, err := n.cfg.Net.ListenUDP(netip.AddrPortFrom(n.cfg.Addr, DiscoveryPort))
	if err != nil {
		return fmt.Errorf("%v: discovery: %w", n.role, err)
	}
	var wg sync.WaitGroup
	defer func() {
		cancel() // stops the announce loop
		udp.Close()
		wg.Wait()
	}()
	wg.Go(func() { n.receiveAnnounces(ctx, udp) })

	switch {
	case n.probe != nil:
		return n.runProbe(ctx, udp, &wg)
	case n.role == RoleA:
		return n.playA(ctx, udp, &wg)
	default:
		return n.playB(ctx, udp, &wg)
	}
}

// emit reports a milestone to the callback and the log: at INFO without a
// callback, at DEBUG with one, which reports it (l2hub serve prints it as
// a marker), so that it is not said twice.
func (n *Node) emit(name string, st Status, detail string) {
	m := Milestone{Role: n.role, Name: name, Status: st, Detail: detail}
	n.msMu.Lock()
	defer n.msMu.Unlock()
	if n.cfg.OnMilestone == nil {
		n.log.Info(m.String())
		return
	}
	n.log.Debug(m.String())
	n.cfg.OnMilestone(m)
}

// stoppedBy reports whether err is the node's stop: ctx ended and err is
// its error (a wait, read or write that ctx's end cut short), not a failure
// that came before the stop, or as it began.
func stoppedBy(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx)))
}

// sessionFailed reports a failed session attempt once per distinct reason;
// node-a retries every 64 ms and would otherwise repeat itself. An attempt
// cut short because the node stops is no failure and is not reported; one
// that failed as the node stopped is.
func (n *Node) sessionFailed(ctx context.Context, err error) {
	if stoppedBy(ctx, err) {
		return
	}
	n.st.handshakeFailures.Add(1)
	detail := fmt.Sprintf("peer=%v err=%q", n.role.Peer(), err.Error())
	n.msMu.Lock()
	repeat := detail == n.lastFailure
	n.lastFailure = detail
	n.msMu.Unlock()
	if !repeat {
		n.emit(MilestoneSession, StatusFail, detail)
	}
}

// after is hub.After with its timer's Stop: a wait that ends first stops
// it, so that no timer outlives the wait (a live clock would fire it into
// nothing up to BootWait later; a virtual one keep it pending).
func (n *Node) after(d time.Duration) (<-chan time.Time, func() bool) {
	ch := make(chan time.Time, 1)
	t := n.cfg.Clock.AfterFunc(d, func() { ch <- n.cfg.Clock.Now() })
	return ch, t.Stop
}

// wait blocks for d or until ctx ends.
func (n *Node) wait(ctx context.Context, d time.Duration) error {
	after, stop := n.after(d)
	defer stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-after:
		return nil
	}
}

// within runs f, closing c when d (if > 0) passes or ctx ends first; it then
// reports ErrTimeout or ctx's error instead of f's.
func (n *Node) within(ctx context.Context, c io.Closer, d time.Duration, f func() error) error {
	done, exited := make(chan struct{}), make(chan struct{})
	var timedOut, cancelled bool
	go func() {
		defer close(exited)
		var after <-chan time.Time
		if d > 0 {
			var stop func() bool
			after, stop = n.after(d)
			defer stop()
		}
		select {
		case <-done:
		case <-after:
			timedOut = true
			c.Close()
		case <-ctx.Done():
			cancelled = true
			c.Close()
		}
	}()
	err := f()
	close(done)
	<-exited
	switch {
	case timedOut:
		return ErrTimeout
	case cancelled:
		return ctx.Err()
	}
	return err
}
