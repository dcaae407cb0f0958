package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// ProbePort is where announce probes point node-a when they want to see
// whether it follows an announce: a port no honest node listens on.
const ProbePort = 34569

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

	run func(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (observed string, pass bool, err error)
}

// Probes lists the hostile variants, in a stable order.
func Probes() []Probe {
	return []Probe{
		{
			Name:   "spoofed-key-announce",
			Plays:  RoleB,
			Expect: "node-a caches the announce of a node-b whose key is not pinned, dials it, and sends no msg1 (identity mismatch peer=crossvm)",
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
			Expect: "node-a ignores announces with each decode error (announce ignored (malformed)) and still completes the session",
			run:    probeMalformedAnnounce,
		},
		{
			Name:      "oversized-announce",
			Plays:     RoleB,
			Expect:    "node-a ignores an announce whose fields run past byte 256 and a datagram above 512 bytes (both point at port 34569) and dials the fallback 10.42.0.11:34568",
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
			Expect:       "node-b skips a request whose tag fails, silently and without advancing its nonce, and answers the genuine request at the same nonce",
			ConsumesSlot: true,
			run:          probeTamperedRecord,
		},
		{
			Name:         "truncated-record",
			Plays:        RoleA,
			Expect:       "after 137 bytes of a record, node-b reads across record boundaries: no later record authenticates and it never answers (the session is lost)",
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

func (n *Node) runProbe(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup) error {
	p := n.probe
	switch {
	case p.NeedsAddr.IsValid() && n.cfg.Addr != p.NeedsAddr:
		return fmt.Errorf("probe %s: the node must have address %v, not %v", p.Name, p.NeedsAddr, n.cfg.Addr)
	case p.AvoidAddr.IsValid() && n.cfg.Addr == p.AvoidAddr:
		return fmt.Errorf("probe %s: the node needs an address other than %v", p.Name, p.AvoidAddr)
	}
	observed, pass, err := p.run(ctx, n, udp, wg)
	if err != nil {
		return fmt.Errorf("probe %s: %w", p.Name, err)
	}
	st := StatusOK
	if !pass {
		st = StatusFail
	}
	n.emit(MilestoneProbe, st, fmt.Sprintf("probe=%s observed=%q", p.Name, observed))
	if !pass {
		return fmt.Errorf("probe %s: %w: %s", p.Name, ErrProbeFailed, observed)
	}
	return nil
}

// listenAt opens a session listener on the node's address.
func (n *Node) listenAt(port uint16) (net.Listener, error) {
	return n.cfg.Net.ListenTCP(netip.AddrPortFrom(n.cfg.Addr, port))
}

// silentFor reports whether c delivers no bytes within d: true on EOF, a
// reset or the window passing, false with the bytes if any arrive.
func (n *Node) silentFor(ctx context.Context, c net.Conn, want int) (got []byte, silent bool, err error) {
	buf := make([]byte, want)
	err = n.readFull(ctx, c, buf, n.cfg.ProbeWindow)
	switch {
	case err == nil:
		return buf, false, nil
	case ctx.Err() != nil:
		return nil, false, ctx.Err()
	}
	return nil, true, nil
}

func probeSpoofedKey(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	spoof := RoleB.Announce()
	spoof.Port = ProbePort
	spoof.Static = BringUpKeyPair(TagStaticB+1, ProbePort).Public
	msg1, dialled, err := n.announceAndWatch(ctx, udp, wg, spoof, ProbePort)
	switch {
	case err != nil:
		return "", false, err
	case !dialled:
		return "node-a never dialled the spoofed node-b (was it already in a session?)", false, nil
	case msg1 != nil:
		return fmt.Sprintf("node-a sent msg1 %x… to a node-b with an unpinned key", msg1[:4]), false, nil
	}
	return fmt.Sprintf("node-a dialled %v and sent no msg1", netip.AddrPortFrom(n.cfg.Addr, ProbePort)), true, nil
}

func probeReplayedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	msg1, dialled, err := n.announceAndWatch(ctx, udp, wg, RoleB.Announce(), SessionPortB)
	switch {
	case err != nil:
		return "", false, err
	case !dialled:
		return "node-a never dialled the replayer", false, nil
	case msg1 == nil:
		return "node-a dialled the replayer but sent no msg1", false, nil
	}
	return fmt.Sprintf("node-a dialled the replayer at %v and sent msg1 %x…", netip.AddrPortFrom(n.cfg.Addr, SessionPortB), msg1[:4]), true, nil
}

// announceAndWatch announces ann, listens on port and reports whether
// node-a dialled it within the probe window and, if so, the msg1 it sent
// within the window after (nil for none).
func (n *Node) announceAndWatch(ctx context.Context, udp net.PacketConn, wg *sync.WaitGroup, ann Announce, port uint16) (msg1 []byte, dialled bool, err error) {
	pkt, err := ann.MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	ln, err := n.listenAt(port)
	if err != nil {
		return nil, false, err
	}
	n.startAnnouncing(ctx, udp, wg, [][]byte{pkt})
	c, err := n.acceptB(ctx, ln, n.cfg.ProbeWindow)
	if err != nil {
		return nil, false, ctx.Err()
	}
	defer c.Close()
	got, silent, err := n.silentFor(ctx, c, NexusMsg1Len)
	if err != nil || silent {
		return nil, true, err
	}
	return got, true, nil
}

// malformedAnnounces are one datagram per decoder error class, each built
// from node-b's genuine announce; the probe sends them in this order.
func malformedAnnounces() []struct {
	Name string
	Data []byte
} {
	good, _ := RoleB.Announce().MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	return []struct {
		Name string
		Data []byte
	}{
		{"truncated", good[:40]},
		{"bad-magic", mod(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version-2", mod(func(b []byte) []byte { b[4] = 2; return b })},
		{"device-id-length-0", mod(func(b []byte) []byte { b[5] = 0; return b })},
		{"device-id-length-65", mod(func(b []byte) []byte { b[5] = 65; return b })},
		{"device-id-utf8", mod(func(b []byte) []byte { b[6] = 0xff; return b })},
		{"service-count-17", mod(func(b []byte) []byte { b[6+6+2+32] = 17; return b })},
		{"service-length-0", mod(func(b []byte) []byte { b[6+6+2+32+1] = 0; return b })},
	}
}

func probeMalformedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	bad := malformedAnnounces()
	var pkts [][]byte
	for _, m := range bad {
		pkts = append(pkts, m.Data)
	}
	err := n.playB(ctx, udp, wg, pkts)
	if !n.muxDone.Load() {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return fmt.Sprintf("no session with %d malformed announces in every round: %v", len(bad), err), false, nil
	}
	return fmt.Sprintf("node-a completed the session with %d malformed announces in every round", len(bad)), true, nil
}

func probeOversizedAnnounce(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	// Fields past byte 256 in a datagram under 512: it reaches dsoftbusd,
	// which reads 256 bytes and sees Truncated.
	long := RoleB.Announce()
	long.Port = ProbePort
	var overRecv []byte
	for len(overRecv) <= AnnounceRecvLimit {
		long.Services = append(long.Services, strings.Repeat(string(rune('a'+len(long.Services))), MaxServiceNameLen))
		var err error
		if overRecv, err = long.MarshalBinary(); err != nil {
			return "", false, err
		}
	}
	// Complete within 256 bytes but in a 600-byte datagram: smoltcp drops it.
	short := RoleB.Announce()
	short.Port = ProbePort
	overBuf, _ := short.MarshalBinary()
	overBuf = append(overBuf, make([]byte, 600-len(overBuf))...)

	honest, err := n.listenAt(SessionPortB)
	if err != nil {
		return "", false, err
	}
	decoy, err := n.listenAt(ProbePort)
	if err != nil {
		honest.Close()
		return "", false, err
	}
	n.startAnnouncing(ctx, udp, wg, [][]byte{overRecv, overBuf})

	type accepted struct {
		c    net.Conn
		port uint16
	}
	first := make(chan accepted, 2)
	var lwg sync.WaitGroup
	for _, l := range []struct {
		ln   net.Listener
		port uint16
	}{{honest, SessionPortB}, {decoy, ProbePort}} {
		lwg.Go(func() {
			if c, err := l.ln.Accept(); err == nil {
				first <- accepted{c, l.port}
			}
		})
	}
	listening := make(chan struct{})
	go func() { lwg.Wait(); close(listening) }()
	var got accepted
	err = n.within(ctx, closers{honest, decoy}, n.cfg.ReplyTimeout+n.cfg.ProbeWindow, func() error {
		select {
		case got = <-first:
			return nil
		case <-listening: // both listeners closed; one may still have accepted
			select {
			case got = <-first:
				return nil
			default:
				return net.ErrClosed
			}
		}
	})
	honest.Close() // one connection per boot: no second accept
	decoy.Close()
	<-listening
	close(first)
	for extra := range first {
		extra.c.Close()
	}
	switch {
	case ctx.Err() != nil:
		return "", false, ctx.Err()
	case err != nil:
		return "node-a dialled neither 34568 nor 34569", false, nil
	case got.port == ProbePort:
		got.c.Close()
		return "node-a dialled port 34569: it learned an announce it cannot have read whole", false, nil
	}
	n.connected.Store(true)
	_ = n.serveB(ctx, got.c)
	if !n.muxDone.Load() {
		return "node-a dialled the fallback but the session did not complete", false, nil
	}
	return "node-a ignored both oversized announces, dialled the fallback and completed the session", true, nil
}

// closers closes several things as one.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func probeWrongMsg1(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	announce, _ := n.role.Announce().MarshalBinary()
	n.startAnnouncing(ctx, udp, wg, [][]byte{announce})
	if err := n.waitDiscovery(ctx); err != nil {
		return "", false, err
	}
	var c net.Conn
	for {
		var err error
		if c, _, err = n.dial(ctx); err == nil {
			break
		}
		if err := n.wait(ctx, n.cfg.RetryInterval); err != nil {
			return "", false, err
		}
	}
	defer c.Close()
	lowOrder := make([]byte, NexusMsg1Len) // the all-zero point: every DH with it is zero
	if err := n.write(ctx, c, lowOrder); err != nil {
		return "", false, err
	}
	got, silent, err := n.silentFor(ctx, c, NexusMsg2Len)
	if err != nil {
		return "", false, err
	}
	if !silent {
		return fmt.Sprintf("node-b answered a low-order msg1 with msg2 %x…", got[:4]), false, nil
	}
	return "node-b sent no msg2 for a low-order msg1", true, nil
}

func resolveRequest() ProxyRequest { return BringUpRequests()[0] }

func probeTamperedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return "", false, err
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return "", false, err
	}
	rec[10] ^= 0x01
	if err := n.write(ctx, s.conn, rec); err != nil {
		return "", false, err
	}
	s.send.SetNonce(at) // the tampering happened in transit: resend at the same nonce
	rsp, err := n.request(ctx, s, req)
	switch {
	case ctx.Err() != nil:
		return "", false, ctx.Err()
	case errors.Is(err, ErrTimeout):
		return fmt.Sprintf("no reply to the genuine request at n=%d: node-b advanced its nonce on a bad tag, or stopped", at), false, nil
	case err != nil:
		return fmt.Sprintf("reply at n=%d: %v", at, err), false, nil
	}
	return fmt.Sprintf("node-b skipped the tampered record and answered the genuine one at n=%d with status %d", at, rsp.Kind), true, nil
}

func probeTruncatedRecord(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return "", false, err
	}
	defer s.conn.Close()
	req := resolveRequest()
	at := s.send.Nonce()
	rec, err := s.send.SealRecord(nil, RequestRecord, req.Service, req.Payload)
	if err != nil {
		return "", false, err
	}
	const cut = 137
	if err := n.write(ctx, s.conn, rec[:cut]); err != nil {
		return "", false, err
	}
	if err := n.write(ctx, s.conn, rec); err != nil { // the whole record again, same nonce
		return "", false, err
	}
	got, silent, err := n.silentFor(ctx, s.conn, ResponseRecordLen)
	if err != nil {
		return "", false, err
	}
	if !silent {
		return fmt.Sprintf("node-b answered across a misaligned stream (%x…)", got[:4]), false, nil
	}
	return fmt.Sprintf("node-b sent nothing after %d + %d bytes at n=%d: the stream is misaligned for good", cut, len(rec), at), true, nil
}

func probeDisallowedService(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return "", false, err
	}
	defer s.conn.Close()
	denied := []ProxyRequest{
		{Service: 9}, // nexus.neg01 at n = 3
		{Service: ServiceSamgr, Payload: []byte("SX\x01\x06\x01a")}, // fails the SM gate
	}
	var notes []string
	for _, req := range denied {
		if err := n.writeRecord(ctx, s, RequestRecord, req.Service, req.Payload); err != nil {
			return "", false, err
		}
		rsp, err := n.readRecord(ctx, s, ResponseRecord, n.cfg.ReplyTimeout)
		switch {
		case ctx.Err() != nil:
			return "", false, ctx.Err()
		case err != nil:
			return fmt.Sprintf("service %d: no deny response: %v", req.Service, err), false, nil
		case rsp.Kind != ProxyStatusFail || len(rsp.Payload) != 0:
			return fmt.Sprintf("service %d: status %d with %d bytes, want status 1 and none", req.Service, rsp.Kind, len(rsp.Payload)), false, nil
		}
		notes = append(notes, fmt.Sprintf("svc %d denied", req.Service))
	}
	if _, err := n.request(ctx, s, resolveRequest()); err != nil {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return fmt.Sprintf("%s, then the genuine resolve failed: %v", strings.Join(notes, ", "), err), false, nil
	}
	return strings.Join(notes, ", ") + ", then the genuine resolve succeeded", true, nil
}

func probeOversizedRequest(ctx context.Context, n *Node, udp net.PacketConn, wg *sync.WaitGroup) (string, bool, error) {
	s, err := n.establishA(ctx, udp, wg)
	if err != nil {
		return "", false, err
	}
	defer s.conn.Close()
	at := s.send.Nonce()
	lying := appendRecordPlain(nil, RequestRecord, ServiceSamgr, MaxRequestPayload+44, nil)
	if err := n.write(ctx, s.conn, s.send.Seal(nil, lying)); err != nil {
		return "", false, err
	}
	rsp, err := n.request(ctx, s, resolveRequest())
	switch {
	case ctx.Err() != nil:
		return "", false, ctx.Err()
	case errors.Is(err, ErrProxy) && rsp.Kind == ProxyStatusFail:
		return "node-b answered the oversized request (status 1)", false, nil
	case err != nil:
		return fmt.Sprintf("no valid reply to the request after the oversized one: %v", err), false, nil
	}
	return fmt.Sprintf("node-b dropped the oversized request at n=%d and answered the next (n=%d) at its send nonce %d", at, at+1, at), true, nil
}
