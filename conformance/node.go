package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

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

// --- discovery ---

func udpAddr(a netip.Addr, port uint16) net.Addr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port))
}

// sourceAddr extracts the IPv4 source of a datagram.
func sourceAddr(a net.Addr) (netip.Addr, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ip := u.AddrPort().Addr().Unmap()
		return ip, ip.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}

// startAnnouncing sends a round of announces (each payload to the group,
// then to the peer) at once, as the OS's first pass does, and then every
// AnnounceInterval while no TCP connection exists, until ctx ends. round
// gives each round's payloads; it is called once per round sent, from one
// goroutine at a time.
func (n *Node) startAnnouncing(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup, round func() [][]byte) {
	group, peer := udpAddr(DiscoveryGroup, DiscoveryPort), udpAddr(n.cfg.Peer, DiscoveryPort)
	n.sendAnnounces(udp, round(), group, peer)
	wg.Go(func() {
		for n.wait(ctx, n.cfg.AnnounceInterval) == nil {
			n.announceMu.Lock()
			if !n.connected.Load() {
				n.sendAnnounces(udp, round(), group, peer)
			}
			n.announceMu.Unlock()
		}
	})
}

// every is a round of the same payloads each time.
func every(payloads ...[]byte) func() [][]byte {
	return func() [][]byte { return payloads }
}

func (n *Node) sendAnnounces(udp net.PacketConn, payloads [][]byte, dsts ...net.Addr) {
	failed := false
	for _, p := range payloads {
		for _, dst := range dsts {
			if _, err := udp.WriteTo(p, dst); err != nil {
				failed = true
				n.log.Debug("announce send failed", "to", dst.String(), "err", err)
			}
		}
	}
	n.st.announcesSent.Add(1)
	if failed {
		n.st.announceSendErrors.Add(1)
	}
	if n.announced.CompareAndSwap(false, true) {
		n.emit(MilestoneAnnounce, StatusOK, fmt.Sprintf("to=%v,%v", dsts[0], dsts[1]))
	}
}

// receiveAnnounces learns peers until the socket closes. Like the OS it
// reads at most 256 bytes of each datagram; datagrams above 512 bytes are
// dropped, as smoltcp's buffer would. A socket closed because the node
// stops (ctx ended, or the stack under it shut down first: EOF) is the end
// of the run, not a failure.
func (n *Node) receiveAnnounces(ctx context.Context, udp net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		nr, from, err := udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				n.log.Warn("discovery recv FAIL", "err", err)
			}
			return
		}
		if nr > DatagramDropThreshold {
			n.st.announcesDropped.Add(1)
			continue
		}
		ann, err := ParseReceivedAnnounce(buf[:nr])
		if err != nil {
			n.st.announcesMalformed.Add(1)
			n.log.Debug("announce ignored (malformed)", "from", from.String(), "err", err)
			continue
		}
		src, ok := sourceAddr(from)
		if !ok {
			continue
		}
		n.learn(ann, src)
	}
}

func (n *Node) learn(a Announce, src netip.Addr) {
	n.st.announcesLearned.Add(1)
	e := PeerEntry{DeviceID: a.DeviceID, Addr: src, Port: a.Port, Static: a.Static, Services: a.Services}
	if !n.peers.insert(e) || a.DeviceID != n.role.Peer().String() {
		return
	}
	st, detail := StatusOK, fmt.Sprintf("peer=%s addr=%v", a.DeviceID, netip.AddrPortFrom(src, a.Port))
	if a.Static != n.role.Peer().StaticKey().Public {
		st, detail = StatusFail, detail+" key=unpinned"
	}
	n.emit(MilestoneDiscovery, st, detail)
	n.learnOnce.Do(func() { close(n.learned) })
}

// checkIdentity is the OS's pre-handshake rule: a cached peer entry must
// carry the pinned key; no entry passes (NX-06).
func (n *Node) checkIdentity() error {
	e, ok := n.peers.peek(n.role.Peer().String())
	if ok && e.Static != n.role.Peer().StaticKey().Public {
		return ErrIdentityMismatch
	}
	return nil
}

// --- session ---

// session is one established nexus-v1 session.
type session struct {
	conn       net.Conn
	send, recv *RecordCipher
	wbuf       [ResponseRecordLen]byte
	rbuf       [ResponseRecordLen]byte
}

func (n *Node) nexusConfig() NexusConfig {
	return NexusConfig{
		Static:     n.role.StaticKey(),
		Ephemeral:  n.cfg.Ephemeral,
		PeerStatic: n.role.Peer().StaticKey().Public,
	}
}

func (n *Node) write(ctx context.Context, c net.Conn, b []byte) error {
	return n.within(ctx, c, n.cfg.ReplyTimeout, func() error {
		_, err := c.Write(b)
		return err
	})
}

// readFull fills b from c within d (0: no limit). A read that fails
// before that, and not because the node stops, failed because the peer
// ended the connection (an end of stream, a reset): its error is a
// connEnded.
func (n *Node) readFull(ctx context.Context, c net.Conn, b []byte, d time.Duration) error {
	err := n.within(ctx, c, d, func() error {
		_, err := io.ReadFull(c, b)
		return err
	})
	if err != nil && !errors.Is(err, ErrTimeout) && !stoppedBy(ctx, err) {
		return connEnded{err}
	}
	return err
}

// connEnded marks a read that failed because the peer ended the
// connection, not because a window passed or the node stopped; it reads as
// its cause.
type connEnded struct{ error }

func (e connEnded) Unwrap() error { return e.error }

// ended reports whether err is a read the peer's end of the connection cut
// short.
func ended(err error) bool {
	var e connEnded
	return errors.As(err, &e)
}

// writeRecord seals and sends one record.
func (n *Node) writeRecord(ctx context.Context, s *session, class RecordClass, kind byte, payload []byte) error {
	rec, err := s.send.SealRecord(s.wbuf[:0], class, kind, payload)
	if err != nil {
		return err
	}
	return n.write(ctx, s.conn, rec)
}

// readRecord reads and opens one record; d = 0 waits without limit.
func (n *Node) readRecord(ctx context.Context, s *session, class RecordClass, d time.Duration) (Record, error) {
	wire := s.rbuf[:class.WireLen()]
	if err := n.readFull(ctx, s.conn, wire, d); err != nil {
		return Record{}, err
	}
	return s.recv.OpenRecord(class, wire)
}

// dialTarget is node-a's choice: the cached node-b entry (source IP and
// announced port), else the hard-coded fallback.
func (n *Node) dialTarget() (netip.AddrPort, string) {
	if e, ok := n.peers.peek(n.role.Peer().String()); ok {
		return netip.AddrPortFrom(e.Addr, e.Port), "discovery"
	}
	return netip.AddrPortFrom(n.cfg.Peer, SessionPortB), "fallback"
}

// waitDiscovery holds node-a's first dial until node-b is learned or
// DiscoveryWait passes.
func (n *Node) waitDiscovery(ctx context.Context) error {
	if n.cfg.DiscoveryWait < 0 {
		return nil
	}
	after, stop := n.after(n.cfg.DiscoveryWait)
	defer stop()
	select {
	case <-n.learned:
		return nil
	case <-after:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial makes one connection attempt to node-a's current target, from
// node-a's fixed source port (§6.1). Until keep marks the attempt a
// session, closing the connection aborts it, so that the next dial can
// reuse the 4-tuple at once, as the OS's redial does (§6.2).
func (n *Node) dial(ctx context.Context) (net.Conn, string, error) {
	target, via := n.dialTarget()
	n.st.dials.Add(1)
	n.announceMu.Lock() // after a round sending now, and none until this fails
	n.connected.Store(true)
	n.announceMu.Unlock()
	c, err := n.cfg.Net.DialTCP(ctx, netip.AddrPortFrom(n.cfg.Addr, n.cfg.DialPort), target)
	if err != nil {
		n.connected.Store(false)
		n.st.dialFailures.Add(1)
		n.log.Debug("dial failed", "target", target.String(), "via", via, "err", err)
		return nil, via, err
	}
	setLinger(c, 0, n.log)
	return c, via + " target=" + target.String(), nil
}

// keep ends the abort-on-close of a dialled connection that became a
// session: its eventual close is graceful, so node-b reads an end of
// stream rather than a reset.
func (n *Node) keep(c net.Conn) { setLinger(c, -1, n.log) }

func setLinger(c net.Conn, sec int, log *slog.Logger) {
	if l, ok := c.(Linger); ok {
		if err := l.SetLinger(sec); err != nil {
			log.Debug("set linger failed", "sec", sec, "err", err)
		}
	}
}

// connectA dials and handshakes until a session exists or ctx ends.
func (n *Node) connectA(ctx context.Context) (*session, error) {
	if err := n.waitDiscovery(ctx); err != nil {
		return nil, err
	}
	for {
		c, via, err := n.dial(ctx)
		if err == nil {
			s, err := n.initiate(ctx, c)
			if err == nil {
				n.keep(c)
				n.emit(MilestoneSession, StatusOK, fmt.Sprintf("peer=%v via=%s", n.role.Peer(), via))
				return s, nil
			}
			c.Close()
			n.connected.Store(false)
			n.sessionFailed(ctx, err)
		}
		if err := n.wait(ctx, n.cfg.RetryInterval); err != nil {
			return nil, err
		}
	}
}

// initiate runs node-a's handshake on c.
func (n *Node) initiate(ctx context.Context, c net.Conn) (*session, error) {
	if err := n.checkIdentity(); err != nil {
		return nil, err
	}
	hs := NewNexusInitiator(n.nexusConfig())
	m1, err := hs.WriteMsg1()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m1); err != nil {
		return nil, fmt.Errorf("hs init write msg1: %w", err)
	}
	m2 := make([]byte, NexusMsg2Len)
	if err := n.readFull(ctx, c, m2, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs init read msg2: %w", err)
	}
	if err := hs.ReadMsg2(m2); err != nil {
		return nil, err
	}
	m3, err := hs.WriteMsg3()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m3); err != nil {
		return nil, fmt.Errorf("hs init write msg3: %w", err)
	}
	keys, err := hs.Keys()
	if err != nil {
		return nil, err
	}
	send, recv := keys.Ciphers(true)
	return &session{conn: c, send: send, recv: recv}, nil
}

// acceptB accepts node-b's single connection on ln and closes ln: the OS's
// listening socket becomes the connection and is never re-armed (§6.2).
func (n *Node) acceptB(ctx context.Context, ln net.Listener, d time.Duration) (net.Conn, error) {
	var c net.Conn
	err := n.within(ctx, ln, d, func() error {
		var err error
		c, err = ln.Accept()
		return err
	})
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	n.connected.Store(true)
	return c, nil
}

// respond runs node-b's handshake on c.
func (n *Node) respond(ctx context.Context, c net.Conn) (*session, error) {
	if err := n.checkIdentity(); err != nil {
		return nil, err
	}
	hs := NewNexusResponder(n.nexusConfig())
	m1 := make([]byte, NexusMsg1Len)
	if err := n.readFull(ctx, c, m1, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs resp read msg1: %w", err)
	}
	if err := hs.ReadMsg1(m1); err != nil {
		return nil, err
	}
	m2, err := hs.WriteMsg2()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m2); err != nil {
		return nil, fmt.Errorf("hs resp write msg2: %w", err)
	}
	m3 := make([]byte, NexusMsg3Len)
	if err := n.readFull(ctx, c, m3, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs resp read msg3: %w", err)
	}
	if err := hs.ReadMsg3(m3); err != nil {
		return nil, err
	}
	keys, err := hs.Keys()
	if err != nil {
		return nil, err
	}
	send, recv := keys.Ciphers(false)
	n.emit(MilestoneSession, StatusOK, fmt.Sprintf("peer=%v", n.role.Peer()))
	return &session{conn: c, send: send, recv: recv}, nil
}

// ladder walks the six mux steps; any failure stops the node, as
// dsoftbusd stops. A ladder cut short by the node's stop is not reported
// as failed.
func (n *Node) ladder(ctx context.Context, s *session) error {
	for _, step := range Ladder() {
		if err := n.ladderStep(ctx, s, step); err != nil {
			err = fmt.Errorf("step %d: %w", step.Step, err)
			if !stoppedBy(ctx, err) {
				n.emit(MilestoneMux, StatusFail, fmt.Sprintf("peer=%v err=%q", n.role.Peer(), err.Error()))
			}
			return fmt.Errorf("%w: %w", ErrLadder, err)
		}
	}
	n.emit(MilestoneMux, StatusOK, fmt.Sprintf("peer=%v", n.role.Peer()))
	return nil
}

func (n *Node) ladderStep(ctx context.Context, s *session, step LadderStep) error {
	if step.From == n.role {
		p, err := step.Payload()
		if err != nil {
			return err
		}
		return n.writeRecord(ctx, s, RequestRecord, step.Kind, p)
	}
	rec, err := n.readRecord(ctx, s, RequestRecord, n.cfg.LadderTimeout)
	if err != nil {
		return err
	}
	return step.Check(rec)
}

// --- node-a ---

func (n *Node) playA(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return fmt.Errorf("%v: %w", n.role, err)
	}
	defer s.conn.Close()
	for _, req := range n.cfg.Requests {
		if _, err := n.request(ctx, s, req); err != nil {
			return fmt.Errorf("%v: %w", n.role, err)
		}
	}
	if n.cfg.Hold {
		<-ctx.Done()
	}
	return nil
}

// establishA is node-a up to the end of the ladder: announce, connect and
// handshake (with retries), then the six ladder steps.
func (n *Node) establishA(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) (*session, error) {
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	s, err := n.connectA(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if err := n.ladder(ctx, s); err != nil {
		s.conn.Close()
		return nil, err
	}
	return s, nil
}

// request sends one proxy request, reads the response and applies node-a's
// verdict, reporting a proxy milestone either way (but no failure when the
// node's stop cut the exchange short).
func (n *Node) request(ctx context.Context, s *session, req ProxyRequest) (Record, error) {
	svc := "service=" + ServiceName(req.Service)
	if err := n.writeRecord(ctx, s, RequestRecord, req.Service, req.Payload); err != nil {
		return Record{}, fmt.Errorf("proxy %s: %w", svc, err)
	}
	rsp, err := n.readRecord(ctx, s, ResponseRecord, n.cfg.ReplyTimeout)
	if err == nil {
		err = CheckProxyResponse(req.Service, rsp)
	}
	if err != nil {
		if !stoppedBy(ctx, err) {
			n.emit(MilestoneProxy, StatusFail, fmt.Sprintf("%s err=%q", svc, err.Error()))
		}
		return rsp, fmt.Errorf("proxy %s: %w", svc, err)
	}
	n.emit(MilestoneProxy, StatusOK, svc)
	return rsp, nil
}

// --- node-b ---

// playB is the honest node-b.
func (n *Node) playB(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	ln, err := n.cfg.Net.ListenTCP(netip.AddrPortFrom(n.cfg.Addr, SessionPortB))
	if err != nil {
		return fmt.Errorf("%v: session: %w", n.role, err)
	}
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	c, err := n.acceptB(ctx, ln, 0)
	if err != nil {
		return fmt.Errorf("%v: session: %w", n.role, err)
	}
	return n.serveB(ctx, c)
}

// serveB runs node-b's side of a session on an accepted connection: one
// attempt only, since no second connection can ever arrive. After a failed
// handshake node-b closes the connection and re-enters its setup loop, so
// its announces resume (§2.2, §4.5), but its listener is gone for good
// (§6.2): it announces, unreachable, until ctx ends, and then returns the
// handshake's error. A failed ladder stops dsoftbusd, announces included.
func (n *Node) serveB(ctx context.Context, c net.Conn) error {
	defer c.Close()
	s, err := n.establishB(ctx, c)
	if err != nil {
		if s == nil && !errors.Is(err, ErrLadder) && !stoppedBy(ctx, err) {
			c.Close()
			n.connected.Store(false)
			// Info, not Debug: the milestone says the handshake failed,
			// not that no dial can reach node-b again.
			n.log.Info("handshake failed: node-b announces again but accepts no connection until restarted (§2.2, §6.2)", "err", err)
			<-ctx.Done()
		}
		return err
	}
	return n.serveProxy(ctx, s)
}

// establishB is node-b on an accepted connection up to the end of the
// ladder: the handshake, then the six ladder steps.
func (n *Node) establishB(ctx context.Context, c net.Conn) (*session, error) {
	s, err := n.respond(ctx, c)
	if err != nil {
		n.sessionFailed(ctx, err)
		return nil, fmt.Errorf("%v: session: %w", n.role, err)
	}
	if err := n.ladder(ctx, s); err != nil {
		return nil, fmt.Errorf("%v: %w", n.role, err)
	}
	return s, nil
}

// serveProxy answers requests until the peer closes (nil) or ctx ends.
func (n *Node) serveProxy(ctx context.Context, s *session) error {
	var plain [RequestPlainLen]byte
	for {
		wire := s.rbuf[:RequestRecordLen]
		if err := n.readFull(ctx, s.conn, wire, 0); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%v: proxy: %w", n.role, err)
		}
		p, err := s.recv.Open(plain[:0], wire)
		if err != nil {
			// A bad tag is skipped silently; the nonce stays (§5.1).
			n.st.recordsRejected.Add(1)
			n.log.Debug("record skipped", "err", err)
			continue
		}
		if err := n.answer(ctx, s, GateRequest(p)); err != nil {
			return fmt.Errorf("%v: proxy: %w", n.role, err)
		}
	}
}

func (n *Node) answer(ctx context.Context, s *session, d GateDecision) error {
	var status byte
	var reply []byte
	switch d.Action {
	case GateDrop:
		n.st.proxyDropped.Add(1)
		n.emit(MilestoneProxy, StatusDenied, d.Why)
		return nil
	case GateDeny:
		n.st.proxyDenied.Add(1)
		status = ProxyStatusFail
		n.emit(MilestoneProxy, StatusDenied, d.Why)
	case GateForward:
		n.st.proxyServed.Add(1)
		var ok bool
		if reply, ok = n.cfg.Backend.Serve(d.Service, d.Payload); !ok {
			status, reply = ProxyStatusFail, nil
		}
		reply = reply[:min(len(reply), MaxResponsePayload)]
		n.emit(MilestoneProxy, StatusOK, d.Why)
	}
	return n.writeRecord(ctx, s, ResponseRecord, status, reply)
}
