package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Probes: the catalogue of hostile variants (Probes, LookupProbe), how a
// node runs one and keeps its verdict (runProbe, outcome), and watch, with
// which both kinds see what the target sends within the probe window. The
// probes themselves are in probe_announce.go (playing node-b) and
// probe_session.go (playing node-a).

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
