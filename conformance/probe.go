package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Ports the announce probes point node-a at, beside node-b's 34568, which
// they keep closed: a node-a that dials it (the fallback) read no announce
// it followed.
const (
	// ProbePort is where announces node-a must not follow point (a spoofed
	// key, a malformed or oversized announce): a dial there shows that
	// node-a learned one.
	ProbePort = 34569
	// FollowPort is where a probe's well-formed announce points: a dial
	// there shows that node-a reads announces and follows them.
	FollowPort = 34570
)

// Probe is a hostile variant of a node: it plays one role wrongly in one
// way and states what the target (the other role) must do, per the spec.
type Probe struct {
	Name   string
	Plays  Role   // the role the probing node pretends to be
	Expect string // the target's behaviour the spec predicts
	// ConsumesSlot marks probes that connect to node-b's session port: node-b
	// accepts one connection per boot (§6.2), so such a probe leaves a real
	// node-b unable to take another session until it reboots. Run them only
	// when asked.
	ConsumesSlot bool
	// NeedsAddr, if valid, is the address the probing node must have.
	NeedsAddr netip.Addr
	// AvoidAddr, if valid, is an address the probing node must not have.
	AvoidAddr netip.Addr

	run func(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error)
}

// Probes lists the hostile variants, in a stable order.
//
// The probes that play node-b wait until they hear node-a (its first
// announce; Config.BootWait bounds that) before their window starts, since
// a VM booted after the hub takes its time; they then keep announcing for
// ReplyTimeout + ProbeWindow.
func Probes() []Probe {
	return []Probe{
		{
			Name:   "spoofed-key-announce",
			Plays:  RoleB,
			Expect: "node-a caches the announce of a node-b whose key is not pinned, dials it (port 34569), and sends no msg1 (identity mismatch peer=crossvm)",
			run:    probeSpoofedKey,
		},
		{
			Name:      "replayed-announce",
			Plays:     RoleB,
			Expect:    "node-a accepts a replay of node-b's genuine announce from another address (no replay protection, NX-10) and dials the replayer, sending msg1",
			AvoidAddr: RoleB.Addr(),
			run:       probeReplayedAnnounce,
		},
		{
			Name:   "malformed-announce",
			Plays:  RoleB,
			Expect: "node-a ignores announces with each decode error (announce ignored (malformed)): the 5 kinds that still name node-b point at 34569, where a dial shows one learned, and the 3 that break the device id, which one learned would file under another device without changing node-a's dial, cannot show on the wire; once a well-formed announce joins them, node-a follows it to 34570 and completes the session",
			run:    probeMalformedAnnounce,
		},
		{
			Name:      "oversized-announce",
			Plays:     RoleB,
			Expect:    "node-a ignores an announce whose fields run past byte 256 and a datagram above 512 bytes (both point at port 34569) and, once a well-formed announce joins them, follows it to 34570 and completes the session",
			NeedsAddr: RoleB.Addr(),
			run:       probeOversizedAnnounce,
		},
		{
			Name:         "wrong-msg1",
			Plays:        RoleA,
			Expect:       "node-b rejects a low-order msg1 (all-zero DH) without sending msg2, and is then unreachable until it reboots",
			ConsumesSlot: true,
			run:          probeWrongMsg1,
		},
		{
			Name:         "tampered-record",
			Plays:        RoleA,
			Expect:       "node-b skips a request whose tag fails, silently and without advancing its nonce or ending the session, and answers the genuine request at the same nonce",
			ConsumesSlot: true,
			run:          probeTamperedRecord,
		},
		{
			Name:         "truncated-record",
			Plays:        RoleA,
			Expect:       "after 137 bytes of a record and the whole record again, node-b reads across record boundaries: it skips the record that fails, and the next, which 138 bytes of filler complete, silently and without advancing its nonce or ending the session; the stream realigned, it answers the genuine request at the same nonce",
			ConsumesSlot: true,
			run:          probeTruncatedRecord,
		},
		{
			Name:         "disallowed-service",
			Plays:        RoleA,
			Expect:       "node-b answers service 9 and a failed SM gate with status 1 and no payload (denied (service=unknown)) and keeps serving",
			ConsumesSlot: true,
			run:          probeDisallowedService,
		},
		{
			Name:         "oversized-request",
			Plays:        RoleA,
			Expect:       "node-b drops a request declaring 300 bytes without a reply (denied (oversized)); its receive nonce advances and its send nonce does not",
			ConsumesSlot: true,
			run:          probeOversizedRequest,
		},
	}
}

// ProbeNames lists the probes' names, in Probes' order.
func ProbeNames() []string {
	var names []string
	for _, p := range Probes() {
		names = append(names, p.Name)
	}
	return names
}

// LookupProbe finds a probe by name.
func LookupProbe(name string) (Probe, bool) {
	for _, p := range Probes() {
		if p.Name == name {
			return p, true
		}
	}
	return Probe{}, false
}

// outcome is a probe's verdict on its target.
type outcome struct {
	observed string
	pass     bool
	absent   bool // the target never appeared: nothing was tested
	// serve, if set, is a session the probe (as node-b) goes on serving
	// after a pass, as node-b does, until node-a closes it or ctx ends.
	serve *session
}

func passed(format string, a ...any) outcome {
	return outcome{observed: fmt.Sprintf(format, a...), pass: true}
}

func failed(format string, a ...any) outcome {
	return outcome{observed: fmt.Sprintf(format, a...)}
}

// lost is the verdict on a probe's session with its target that failed
// with err (a write the target no longer took, a ladder it broke off): the
// target's doing, unless the node's stop cut the session short.
func lost(ctx context.Context, err error, format string, a ...any) (outcome, error) {
	if stoppedBy(ctx, err) {
		return outcome{}, err
	}
	return failed(format, a...), nil
}

func (n *Node) runProbe(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	p := n.probe
	switch {
	case p.NeedsAddr.IsValid() && n.cfg.Addr != p.NeedsAddr:
		return fmt.Errorf("probe %s: the node must have address %v, not %v", p.Name, p.NeedsAddr, n.cfg.Addr)
	case p.AvoidAddr.IsValid() && n.cfg.Addr == p.AvoidAddr:
		return fmt.Errorf("probe %s: the node needs an address other than %v", p.Name, p.AvoidAddr)
	}
	if p.Plays == RoleB {
		n.hearPeer(udp)
	}
	// A verdict is kept even when ctx ended as it was reached: the probes
	// return an error, not a verdict, for a step the stop cut short.
	o, err := p.run(ctx, n, udp, wg)
	if o.serve != nil {
		defer o.serve.conn.Close()
	}
	if err != nil {
		return fmt.Errorf("probe %s: %w", p.Name, err)
	}
	st := StatusOK
	switch {
	case o.absent:
		st = StatusAbsent
	case !o.pass:
		st = StatusFail
	}
	n.verdict.Store(&ProbeVerdict{Probe: p.Name, Status: st, Observed: o.observed})
	n.emit(MilestoneProbe, st, fmt.Sprintf("probe=%s observed=%q", p.Name, o.observed))
	switch st {
	case StatusAbsent:
		return fmt.Errorf("probe %s: %w: %s", p.Name, ErrTargetAbsent, o.observed)
	case StatusFail:
		return fmt.Errorf("probe %s: %w: %s", p.Name, ErrProbeFailed, o.observed)
	}
	if o.serve != nil {
		return n.serveProxy(ctx, o.serve)
	}
	return nil
}

// listenAt opens a session listener on the node's address.
func (n *Node) listenAt(port uint16) (net.Listener, error) {
	return n.cfg.Net.ListenTCP(netip.AddrPortFrom(n.cfg.Addr, port))
}

// groupJoiner is a UDP socket that can join an IPv4 multicast group, as a
// netstack host's can.
type groupJoiner interface {
	JoinGroup(group netip.Addr) error
}

// hearPeer lets a probe playing node-b hear node-a's announces: node-a
// unicasts them to 10.42.0.11 only, so a probe elsewhere (a replayer)
// hears the multicast copy, which its socket must join the group for.
// When it cannot, the reason is kept for the verdict.
func (n *Node) hearPeer(udp net.PacketConn) {
	if n.cfg.Addr == n.role.Addr() {
		return
	}
	j, ok := udp.(groupJoiner)
	if !ok {
		n.deaf = fmt.Sprintf("node-a unicasts its announces to %v, and this node's network cannot join %v to hear their multicast copy", n.role.Addr(), DiscoveryGroup)
		return
	}
	if err := j.JoinGroup(DiscoveryGroup); err != nil {
		n.deaf = fmt.Sprintf("node-a unicasts its announces to %v, and this node could not join %v to hear their multicast copy: %v", n.role.Addr(), DiscoveryGroup, err)
	}
}

// heard reports whether node-a has been heard (its first announce).
func (n *Node) heard() bool {
	select {
	case <-n.learned:
		return true
	default:
		return false
	}
}

// errNotHeard: node-a sent no announce the probe heard within BootWait.
var errNotHeard = errors.New("node-a never heard")

// neverAppeared is the verdict when node-a was never heard: nothing was
// tested, and the target is not to blame for the probe's expectation.
func (n *Node) neverAppeared() outcome {
	o := outcome{absent: true, observed: fmt.Sprintf("node-a never appeared: no announce from it in %v (not booted, or already in a session, which stops its announces)", n.cfg.BootWait)}
	if n.deaf != "" {
		o.observed += "; " + n.deaf
	}
	return o
}

// portListener is a session listener and its port.
type portListener struct {
	ln   net.Listener
	port uint16
}

// accepted is a connection and the port it came in on.
type accepted struct {
	c    net.Conn
	port uint16
}

// acceptFirst accepts the first connection on any of lns and closes them
// all, node-b's slot being taken (§6.2). Until node-a has been heard the
// wait is bounded by BootWait only (errNotHeard); once it has been and
// opens has closed, it lasts d more (ErrTimeout).
func (n *Node) acceptFirst(ctx context.Context, lns []portListener, opens <-chan struct{}, d time.Duration) (accepted, error) {
	first := make(chan accepted, len(lns))
	var lwg sync.WaitGroup
	for _, l := range lns {
		lwg.Go(func() {
			if c, err := l.ln.Accept(); err == nil {
				first <- accepted{c, l.port}
			}
		})
	}
	var boot, window <-chan time.Time
	stopBoot, stopWindow := func() bool { return false }, func() bool { return false }
	defer func() { stopBoot(); stopWindow() }()
	if n.cfg.BootWait > 0 {
		boot, stopBoot = n.after(n.cfg.BootWait)
	}
	heard := n.learned
	var got accepted
	var err error
wait:
	for {
		select {
		case got = <-first:
			break wait
		case <-heard:
			heard, boot = nil, nil
			stopBoot()
		case <-boot:
			if !n.heard() {
				err = errNotHeard
				break wait
			}
		case <-opens:
			opens = nil
			window, stopWindow = n.after(d)
		case <-window:
			err = ErrTimeout
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		}
	}
	for _, l := range lns {
		l.ln.Close()
	}
	lwg.Wait()
	close(first)
	for extra := range first {
		extra.c.Close()
	}
	if err != nil {
		return accepted{}, err
	}
	n.connected.Store(true)
	return got, nil
}

// watch reads want bytes from c within the probe window. got holds them if
// they came; hungUp is the read's error if the peer ended the connection
// first (an end of stream, a reset); both are nil when the window passed
// in silence. err is the node's stop, which cut the window short.
func (n *Node) watch(ctx context.Context, c net.Conn, want int) (got []byte, hungUp, err error) {
	buf := make([]byte, want)
	err = n.readFull(ctx, c, buf, n.cfg.ProbeWindow)
	switch {
	case err == nil:
		return buf, nil, nil
	case errors.Is(err, ErrTimeout):
		return nil, nil, nil
	case ended(err):
		return nil, err, nil
	}
	return nil, nil, err
}

func probeSpoofedKey(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	spoof := RoleB.Announce()
	spoof.Port = ProbePort
	spoof.Static = BringUpKeyPair(TagStaticB+1, ProbePort).Public
	msg1, err := n.announceAndWatch(ctx, udp, wg, spoof, ProbePort)
	switch {
	case errors.Is(err, errNotHeard):
		return n.neverAppeared(), nil
	case errors.Is(err, ErrTimeout):
		return failed("node-a, heard, never dialled the spoofed node-b within %v", n.cfg.ReplyTimeout+n.cfg.ProbeWindow), nil
	case err != nil:
		return outcome{}, err
	case msg1 != nil:
		return failed("node-a sent msg1 %x… to a node-b with an unpinned key", msg1[:4]), nil
	}
	return passed("node-a dialled %v and sent no msg1", netip.AddrPortFrom(n.cfg.Addr, ProbePort)), nil
}

func probeReplayedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	msg1, err := n.announceAndWatch(ctx, udp, wg, RoleB.Announce(), SessionPortB)
	switch {
	case errors.Is(err, errNotHeard):
		return n.neverAppeared(), nil
	case errors.Is(err, ErrTimeout):
		return failed("node-a, heard, never dialled the replayer within %v", n.cfg.ReplyTimeout+n.cfg.ProbeWindow), nil
	case err != nil:
		return outcome{}, err
	case msg1 == nil:
		return failed("node-a dialled the replayer but sent no msg1"), nil
	}
	return passed("node-a dialled the replayer at %v and sent msg1 %x…", netip.AddrPortFrom(n.cfg.Addr, SessionPortB), msg1[:4]), nil
}

// announceAndWatch announces ann, listens on port and, once node-a has
// been heard, waits ReplyTimeout + ProbeWindow for it to dial there (an
// attempt of its own under way may take ReplyTimeout to give up). It
// returns the msg1 node-a sent within the probe window after, or nil for
// none (silence or a close); errNotHeard or ErrTimeout when node-a never
// appeared, or never dialled.
func (n *Node) announceAndWatch(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup, ann Announce, port uint16) (msg1 []byte, err error) {
	pkt, err := ann.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ln, err := n.listenAt(port)
	if err != nil {
		return nil, err
	}
	n.startAnnouncing(ctx, udp, wg, every(pkt))
	got, err := n.acceptFirst(ctx, []portListener{{ln, port}}, n.learned, n.cfg.ReplyTimeout+n.cfg.ProbeWindow)
	if err != nil {
		return nil, err
	}
	defer got.c.Close()
	msg1, _, err = n.watch(ctx, got.c, NexusMsg1Len)
	return msg1, err
}

// malformedAnnounce is one datagram with a decoder error.
type malformedAnnounce struct {
	Name string
	Data []byte
	// NamesNodeB marks an announce that still names node-b: a node-a that
	// learned it would dial its port, ProbePort. The others break the
	// device id, so one learned would be filed under another device and
	// leave node-a's dial as it was: the wire cannot show it, only node-a's
	// own log (announce ignored (malformed)).
	NamesNodeB bool
}

// malformedAnnounces are one datagram per decoder error class, each built
// from node-b's genuine announce pointing at ProbePort; the probe sends
// them in this order, one per round.
func malformedAnnounces() []malformedAnnounce {
	decoy := RoleB.Announce()
	decoy.Port = ProbePort
	good, _ := decoy.MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	return []malformedAnnounce{
		{"truncated", good[:40], true},
		{"bad-magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), true},
		{"version-2", mod(func(b []byte) []byte { b[4] = 2; return b }), true},
		{"device-id-length-0", mod(func(b []byte) []byte { b[5] = 0; return b }), false},
		{"device-id-length-65", mod(func(b []byte) []byte { b[5] = 65; return b }), false},
		{"device-id-utf8", mod(func(b []byte) []byte { b[6] = 0xff; return b }), false},
		{"service-count-17", mod(func(b []byte) []byte { b[6+6+2+32] = 17; return b }), true},
		{"service-length-0", mod(func(b []byte) []byte { b[6+6+2+32+1] = 0; return b }), true},
	}
}

func probeMalformedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	var bad [][]byte
	var unseen []string
	for _, m := range malformedAnnounces() {
		bad = append(bad, m.Data)
		if !m.NamesNodeB {
			unseen = append(unseen, m.Name)
		}
	}
	ignored := fmt.Sprintf("the %d kinds of malformed announce that name node-b (the %d that break the device id, %s, were sent too, but one learned would not change node-a's dial)",
		len(bad)-len(unseen), len(unseen), strings.Join(unseen, ", "))
	return n.ignoreAndFollow(ctx, udp, wg, bad, "malformed", ignored)
}

func probeOversizedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	// Fields past byte 256 in a datagram under 512: it reaches dsoftbusd,
	// which reads 256 bytes and sees Truncated.
	long := RoleB.Announce()
	long.Port = ProbePort
	var overRecv []byte
	for len(overRecv) <= AnnounceRecvLimit {
		long.Services = append(long.Services, strings.Repeat(string(rune('a'+len(long.Services))), MaxServiceNameLen))
		var err error
		if overRecv, err = long.MarshalBinary(); err != nil {
			return outcome{}, err
		}
	}
	// Complete within 256 bytes but in a 600-byte datagram: smoltcp drops it.
	short := RoleB.Announce()
	short.Port = ProbePort
	overBuf, _ := short.MarshalBinary()
	overBuf = append(overBuf, make([]byte, 600-len(overBuf))...)
	return n.ignoreAndFollow(ctx, udp, wg, [][]byte{overRecv, overBuf}, "oversized",
		fmt.Sprintf("both oversized announces (fields past byte %d, a datagram above %d bytes)", AnnounceRecvLimit, DatagramDropThreshold))
}

// quietRounds is how many announce rounds a probe sends, once it has
// heard node-a, with only the announces node-a must ignore, before a
// well-formed one joins them: two rotations of the malformed variants,
// about a second at the OS's cadence. A node-a that learns one of them
// dials ProbePort in that time; one that dialled the fallback before it
// read any (the OS dials on its first pass) was refused, and reads them
// on its redials.
const quietRounds = 16

// ignoreAndFollow judges whether node-a ignores the announces bad (each
// pointing at ProbePort where its layout keeps a port; ignored says which
// of them a pass has shown node-a to ignore) and still follows a
// well-formed one: it sends one of bad per round, alone for quietRounds
// once node-a is heard, then after a well-formed announce that points at
// FollowPort (at most two datagrams a round: smoltcp buffers four).
// node-b's 34568 stays closed throughout, so a node-a that reads no
// announce (and dials the fallback) never reaches the probe. A dial to
// FollowPort becomes node-b's session, judged once its ladder is done and
// then served on.
func (n *Node) ignoreAndFollow(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup, bad [][]byte, what, ignored string) (outcome, error) {
	follow := RoleB.Announce()
	follow.Port = FollowPort
	good, err := follow.MarshalBinary()
	if err != nil {
		return outcome{}, err
	}
	decoy, err := n.listenAt(ProbePort)
	if err != nil {
		return outcome{}, err
	}
	target, err := n.listenAt(FollowPort)
	if err != nil {
		decoy.Close()
		return outcome{}, err
	}
	mixed := make(chan struct{}) // closed with the first round carrying good
	sent, quiet := 0, 0
	n.startAnnouncing(ctx, udp, wg, func() [][]byte {
		b := bad[sent%len(bad)]
		sent++
		if quiet < quietRounds {
			if n.heard() {
				quiet++
			}
			return [][]byte{b}
		}
		if quiet == quietRounds {
			quiet++
			close(mixed)
		}
		return [][]byte{good, b}
	})
	window := n.cfg.ReplyTimeout + n.cfg.ProbeWindow
	got, err := n.acceptFirst(ctx, []portListener{{decoy, ProbePort}, {target, FollowPort}}, mixed, window)
	followAt := netip.AddrPortFrom(n.cfg.Addr, FollowPort)
	switch {
	case errors.Is(err, errNotHeard):
		return n.neverAppeared(), nil
	case errors.Is(err, ErrTimeout):
		return failed("node-a never dialled %v, where a well-formed announce pointed for %v after %d rounds of %s announces alone: it follows no announce (node-b's %d, the fallback, is closed)",
			followAt, window, quietRounds, what, SessionPortB), nil
	case err != nil:
		return outcome{}, err
	case got.port == ProbePort:
		got.c.Close()
		return failed("node-a dialled port %d, where only the %s announces point: it learned one", ProbePort, what), nil
	}
	s, err := n.establishB(ctx, got.c)
	if err != nil {
		got.c.Close()
		return lost(ctx, err, "node-a followed the well-formed announce to %v, but the session failed: %v", followAt, err)
	}
	o := passed("node-a ignored %s, followed the well-formed one to %v and completed the session", ignored, followAt)
	o.serve = s
	return o, nil
}

func probeWrongMsg1(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, every(announce))
	if err := n.waitDiscovery(ctx); err != nil {
		return outcome{}, err
	}
	var c net.Conn
	for {
		var err error
		if c, _, err = n.dial(ctx); err == nil {
			break
		}
		if err := n.wait(ctx, n.cfg.RetryInterval); err != nil {
			return outcome{}, err
		}
	}
	defer c.Close()
	lowOrder := make([]byte, NexusMsg1Len) // the all-zero point: every DH with it is zero
	if err := n.write(ctx, c, lowOrder); err != nil {
		return lost(ctx, err, "node-b took the connection but not msg1: %v", err)
	}
	got, hungUp, err := n.watch(ctx, c, NexusMsg2Len)
	switch {
	case err != nil:
		return outcome{}, err
	case got != nil:
		return failed("node-b answered a low-order msg1 with msg2 %x…", got[:4]), nil
	case hungUp != nil: // the OS closes the connection of a failed handshake
		return passed("node-b sent no msg2 for a low-order msg1 and closed the connection"), nil
	}
	return passed("node-b sent no msg2 for a low-order msg1"), nil
}

func resolveRequest() ProxyRequest { return BringUpRequests()[0] }

func probeTamperedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return outcome{}, err
	}
	rec[10] ^= 0x01
	if err := n.write(ctx, s.conn, rec); err != nil {
		return lost(ctx, err, "node-b ended the session before it took the tampered record: %v", err)
	}
	s.send.SetNonce(at) // the tampering happened in transit: resend at the same nonce
	rsp, err := n.request(ctx, s, req)
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrTimeout):
		return failed("no reply to the genuine request at n=%d: node-b advanced its nonce on a bad tag, or stopped", at), nil
	case ended(err):
		return failed("node-b ended the session on the tampered record (%v): it must skip it silently and stay (§5.1)", err), nil
	case err != nil:
		return failed("reply at n=%d: %v", at, err), nil
	}
	return passed("node-b skipped the tampered record and answered the genuine one at n=%d with status %d", at, rsp.Kind), nil
}

// probeTruncatedRecord cuts a record short and judges whether node-b, whose
// records are fixed-size and unframed, skips what then fails and still
// serves: it sends 137 bytes of a record and the whole record again, which
// node-b reads as one record that fails (137 + 138 bytes) with 137 bytes
// left over; 138 bytes of filler complete those into a second record that
// fails; the stream is then aligned again, and the genuine request at the
// same nonce must be answered. Silence alone would prove nothing: a node-b
// that hung, or advanced its nonce on a bad tag, is silent too.
func probeTruncatedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return outcome{}, err
	}
	const cut = 137
	filler := make([]byte, len(rec)-cut) // with the cut bytes of rec node-b holds, a second record
	if err := n.write(ctx, s.conn, rec[:cut]); err != nil {
		return lost(ctx, err, "node-b ended the session before it took %d bytes of a record: %v", cut, err)
	}
	if err := n.write(ctx, s.conn, rec); err != nil { // the whole record again, same nonce
		return lost(ctx, err, "node-b ended the session on %d bytes of a record, before it took the whole record again: %v", cut, err)
	}
	if err := n.write(ctx, s.conn, filler); err != nil {
		return lost(ctx, err, "node-b took no more after %d + %d bytes at n=%d, not the %d bytes of filler that realign the stream: %v", cut, len(rec), at, len(filler), err)
	}
	s.send.SetNonce(at)
	rsp, err := n.request(ctx, s, req)
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrTimeout):
		return failed("no reply to the genuine request at n=%d after two records that failed (%d + %d bytes, then %d of filler): node-b stopped serving, or advanced its nonce on a bad tag", at, cut, len(rec), len(filler)), nil
	case ended(err):
		return failed("node-b ended the session (%v) after %d + %d bytes at n=%d: it must skip the records that fail and stay in its proxy loop (§5.1)", err, cut, len(rec), at), nil
	case err != nil:
		return failed("node-b's first reply after the records that failed is not the genuine request's at n=%d (%v): it answered a record that failed, or the request wrongly", at, err), nil
	}
	return passed("node-b skipped both records that failed (%d + %d bytes, then %d of filler) and, realigned, answered the genuine request at n=%d with status %d", cut, len(rec), len(filler), at, rsp.Kind), nil
}

func probeDisallowedService(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	denied := []ProxyRequest{
		{Service: 9}, // nexus.neg01 at n = 3
		{Service: ServiceSamgr, Payload: []byte("SX\x01\x06\x01a")}, // fails the SM gate
	}
	var notes []string
	for _, req := range denied {
		if err := n.writeRecord(ctx, s, RequestRecord, req.Service, req.Payload); err != nil {
			return lost(ctx, err, "service %d: node-b ended the session before it took the request: %v", req.Service, err)
		}
		rsp, err := n.readRecord(ctx, s, ResponseRecord, n.cfg.ReplyTimeout)
		switch {
		case stoppedBy(ctx, err):
			return outcome{}, err
		case ended(err):
			return failed("service %d: node-b ended the session instead of denying the request (%v)", req.Service, err), nil
		case err != nil:
			return failed("service %d: no deny response: %v", req.Service, err), nil
		case rsp.Kind != ProxyStatusFail || len(rsp.Payload) != 0:
			return failed("service %d: status %d with %d bytes, want status 1 and none", req.Service, rsp.Kind, len(rsp.Payload)), nil
		}
		notes = append(notes, fmt.Sprintf("svc %d denied", req.Service))
	}
	if _, err := n.request(ctx, s, resolveRequest()); err != nil {
		return lost(ctx, err, "%s, then the genuine resolve failed: %v", strings.Join(notes, ", "), err)
	}
	return passed("%s, then the genuine resolve succeeded", strings.Join(notes, ", ")), nil
}

func probeOversizedRequest(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (outcome, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return lost(ctx, err, "no session with node-b: %v", err)
	}
	defer s.conn.Close()
	at := s.send.Nonce()
	lying := appendRecordPlain(nil, RequestRecord, ServiceSamgr, MaxRequestPayload+44, nil)
	if err := n.write(ctx, s.conn, s.send.Seal(nil, lying)); err != nil {
		return lost(ctx, err, "node-b ended the session before it took the oversized request: %v", err)
	}
	rsp, err := n.request(ctx, s, resolveRequest())
	switch {
	case stoppedBy(ctx, err):
		return outcome{}, err
	case errors.Is(err, ErrProxy) && rsp.Kind == ProxyStatusFail:
		return failed("node-b answered the oversized request (status 1)"), nil
	case ended(err):
		return failed("node-b ended the session on the oversized request (%v): it must drop it and serve on", err), nil
	case err != nil:
		return failed("no valid reply to the request after the oversized one: %v", err), nil
	}
	return passed("node-b dropped the oversized request at n=%d and answered the next (n=%d) at its send nonce %d", at, at+1, at), nil
}
