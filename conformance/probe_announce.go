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

// The probes that play node-b: announces node-a must ignore (a spoofed
// key, malformed or oversized ones) or may follow (a replay), judged by
// where node-a dials next. They first hear node-a (hearPeer, within
// BootWait) and then accept its dial on whichever port an announce
// pointed at (acceptFirst).

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
		// 17 well-formed services, within the 256 bytes node-a reads, so
		// that only the count bound refuses it (with node-b's 2 services
		// alone, a decoder without the bound would refuse it as truncated).
		{"service-count-17", mod(func(b []byte) []byte {
			b[6+6+2+32] = MaxServices + 1
			for i := range MaxServices + 1 - len(decoy.Services) {
				b = append(b, 1, byte('c'+i))
			}
			return b
		}), true},
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
