package checker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"l2hub/conformance"
)

// announceGrace is how long after a node starts its session an announce
// from it may still appear: the OS checks for the connection once per pass,
// and a copy already queued still goes out.
const announceGrace = 250 * time.Millisecond

// reincarnationSilence: a SYN repeating the ISN of a connection whose
// client has sent data on it starts a new connection once the connection
// was silent this long (see redial). node-b's keep-alives (every 2 s, §6.1)
// keep a live session from falling silent this long, and a VM takes longer
// to reboot. This is a bound, not a proof: a hub policy that holds one SYN
// copy for longer than the session and this silence together, or a client
// that resends its SYN after such a silence, would fool it.
const reincarnationSilence = 4 * time.Second

// joinWindow: a connection open when the capture began shows a segment
// within this long of the capture's first frame. node-b's keep-alive fires
// every 2 s on an idle session (§6.1); two intervals and a second more
// allow for a keep-alive the hub dropped or held. A connection first seen
// later, without a SYN, opened inside the capture (see joinedMidway).
const joinWindow = 5 * time.Second

type connKey struct{ client, server netip.AddrPort }

// tcpConn is one TCP connection to a session port.
type tcpConn struct {
	key       connKey
	subject   string
	midstream bool // opened by a segment other than a SYN: where its streams begin is unknown
	// joined: a midstream connection the capture may have begun inside
	// (joinedMidway); notJoined says why another was not, firstFrame and
	// firstDir are its first segment.
	joined     bool
	notJoined  string
	firstFrame int
	firstDir   int
	// heard: each end had announced before the first segment.
	heard    [2]bool
	synFrame int
	accepted bool // node-b answered the SYN
	estTime  time.Time
	estFrame int
	reset    bool
	rstFrame int
	lastTime time.Time // the last segment, delivered or dropped
	// clientSeq: the client's last segment's place in the input
	// (Checker.frames), delivered or dropped.
	clientSeq int
	half      [2]stream         // 0: client to server, 1: server to client
	drops     [2][numCauses]int // frames the hub dropped or corrupted, per direction and cause
	sinks     [2]sink
	revDrop   [2]reverseLoss
	sess      *session
	// segs counts each side's segments, delivered or dropped; injected
	// those the hub injected, and injFrames holds the first
	// maxInjFrames of their frame numbers: which findings of a side whose
	// segments came from both a VM and the hub are the injector's.
	segs, injected [2]int
	injFrames      [2][]int
	// appTime and appFrame: when each side sent its first session byte,
	// proof that its application holds the connection (dial returned,
	// accept yielded); the OS announces no more from then on.
	appTime  [2]time.Time
	appFrame [2]int
	// late: each side's announces after that, not yet judged (see
	// announceFrom); lateFailed: some were judged late (DISC-008).
	late       [2]lateAnnounces
	lateFailed bool
}

// maxInjFrames bounds the frame numbers of injected segments kept per
// side.
const maxInjFrames = 256

// maxLateFrames bounds the frame numbers of pending late announces kept
// per side; further ones are counted.
const maxLateFrames = MaxFindingFrames

// lateAnnounces are one node's announces after it began its session,
// pending until something says whether the node still held the session.
type lateAnnounces struct {
	n        int   // announces pending
	followed int   // of them, those the node followed with a segment on the connection
	frames   []int // the first maxLateFrames pending announces
}

func (l *lateAnnounces) add(frame int) {
	l.n++
	if len(l.frames) < maxLateFrames {
		l.frames = append(l.frames, frame)
	}
}

// drop forgets the first n pending announces.
func (l *lateAnnounces) drop(n int) {
	l.n -= n
	l.followed = max(l.followed-n, 0)
	l.frames = l.frames[min(n, len(l.frames)):]
}

// reverseDrop consumes one loss in the direction opposite to dir: a lost
// ACK explains a retransmission of bytes the receiver already had.
func (t *tcpConn) reverseDrop(dir int) (cause, bool) {
	for c, n := range t.drops[1-dir] {
		if n > 0 {
			t.drops[1-dir][c]--
			return cause(c), true
		}
	}
	return 0, false
}

// connTable follows the connections to session ports.
type connTable struct {
	c        *Checker
	conns    map[connKey]*tcpConn
	order    []*tcpConn
	accepted map[netip.AddrPort]*tcpConn // the first connection each listener accepted
	// refusals are each accepted listener's later refusals, until it
	// accepts again or the run ends.
	refusals map[netip.AddrPort]*refusals
	limit    int
	limitFr  []int
	sessions int // connections whose handshake completed, retired or live
	retired  int
	// retiredJoined counts the retired connections the capture joined
	// midway: their handshakes could not be captured.
	retiredJoined int
	// heard is each address's last announce, the evidence that it held no
	// session then (announces stop once dial or accept yields one, §2.2).
	heard map[netip.Addr]announceMark
}

// announceMark is when an address last announced: the frame's time (zero
// if unknown) and its place in the input (Checker.frames).
type announceMark struct {
	at    time.Time
	seq   int
	frame int
	// woke is the frame of the address's latest announce after a silence
	// of rebootSilence or more (a reboot), 0 if none.
	woke int
}

// maxHeard bounds the addresses whose last announce the table keeps.
const maxHeard = 256

func (t *connTable) init(c *Checker) {
	t.c = c
	t.conns = map[connKey]*tcpConn{}
	t.accepted = map[netip.AddrPort]*tcpConn{}
	t.refusals = map[netip.AddrPort]*refusals{}
	t.heard = map[netip.Addr]announceMark{}
}

// lookup finds p's connection and its direction.
func (t *connTable) lookup(p *packet) (*tcpConn, int) {
	if c := t.conns[connKey{p.srcAP(), p.dstAP()}]; c != nil {
		return c, 0
	}
	if c := t.conns[connKey{p.dstAP(), p.srcAP()}]; c != nil {
		return c, 1
	}
	return nil, 0
}

// segment follows one TCP segment the peer received.
func (t *connTable) segment(f *Frame, p *packet) {
	conn, dir := t.lookup(p)
	syn := p.flags&tcpSYN != 0 && p.flags&tcpACK == 0
	if syn && dir == 0 && conn != nil && t.redial(conn, f, p) {
		// The session on this 4-tuple is over (a failure or a reboot):
		// announces during it are no longer late. A dial on another
		// 4-tuple says nothing of this one, which may go on.
		conn.late = [2]lateAnnounces{}
		t.retire(conn)
		conn = nil
	}
	if conn == nil {
		switch {
		case syn && t.c.disc.isSessionPort(p.dstPort):
			conn = t.open(connKey{p.srcAP(), p.dstAP()}, f, false)
		case !syn && p.flags&tcpRST == 0 && t.c.disc.isSessionPort(p.dstPort):
			conn = t.open(connKey{p.srcAP(), p.dstAP()}, f, true)
		case !syn && p.flags&tcpRST == 0 && t.c.disc.isSessionPort(p.srcPort):
			conn = t.open(connKey{p.dstAP(), p.srcAP()}, f, true)
			dir = 1
		}
		if conn == nil {
			return
		}
		if conn.midstream {
			t.joinedMidway(conn, f, p, dir)
		}
	}
	conn.injectedBy(dir, f)
	if dir == 0 {
		conn.clientSeq = t.c.frames
	}
	if !f.Time.IsZero() {
		conn.lastTime = f.Time
	}
	if syn && dir == 0 && conn.synFrame == 0 {
		conn.synFrame = f.Number
		t.checkDial(conn, f, p)
	}
	if p.flags&tcpSYN != 0 && p.flags&tcpACK != 0 && dir == 1 && !conn.accepted {
		conn.accepted, conn.estTime, conn.estFrame = true, f.Time, f.Number
		t.checkAccept(conn, f)
	}
	if p.flags&tcpRST != 0 {
		// The session is over. Announces before the reset may be a new
		// boot's (its stack resets the old connection) or follow a failure.
		conn.late = [2]lateAnnounces{}
		if conn.joined && dir != conn.firstDir && !conn.half[dir].started && conn.heard[conn.firstDir] {
			// The first segment's receiver answers with a reset: it
			// holds no such connection. Its sender announced in this
			// capture, so it was not in an established session either
			// (announces do not resume while one lasts, §2.2): there
			// was no connection for the capture to begin inside.
			conn.joined = false
			conn.notJoined = fmt.Sprintf("%s reset it (frame %d), holding no such connection, and %s had announced before it in this capture, so neither end held it when the capture began",
				roleName(conn.end(dir).Addr()), f.Number, roleName(conn.end(conn.firstDir).Addr()))
		}
		if !conn.reset {
			conn.reset, conn.rstFrame = true, f.Number
			if dir == 1 && !conn.accepted && conn.half[0].synSeen && conn.half[0].delivered == 0 {
				t.refused(conn, f)
			}
		}
		return
	}
	if len(p.payload) > 0 && conn.appFrame[dir] == 0 {
		conn.appTime[dir], conn.appFrame[dir] = f.Time, f.Number
	}
	conn.late[dir].followed = conn.late[dir].n // the node still holds the connection
	if p.flags&tcpACK != 0 {
		conn.half[1-dir].acked(p.ack, f.Time)
	}
	conn.half[dir].at = f.Time
	conn.half[dir].segment(p.seq, p.payload, p.flags, f.Number, conn.sinks[dir], conn.revDrop[dir])
	if conn.sess.hsDone {
		for side := range conn.late {
			l := &conn.late[side]
			if l.followed > 0 {
				t.lateAnnounces(t.c.agg, conn, side, l.followed)
				l.drop(l.followed)
				conn.lateFailed = true
			}
		}
	}
}

// refused explains node-b's reset of a SYN it did not accept (SESS-001).
// Before node-b's listener took a connection, node-b was not listening yet
// and node-a redials (§6.1 row 5). After, the listener is gone: node-b
// accepts one connection per boot and never listens again (§6.2), so it
// refuses every redial until it reboots. A rebooted node-b resets SYNs in
// the same way until its new listener is up, and announces alike, so the
// refusal is judged later: if the run ends first, the slot was taken; if
// the listener accepts again, node-b rebooted, and the reboot's silence in
// its announces tells the two boots' refusals apart (refusals.announce).
func (t *connTable) refused(conn *tcpConn, f *Frame) {
	server := conn.key.server
	if prev := t.accepted[server]; prev != nil && prev != conn {
		r := t.refusals[server]
		if r == nil {
			// A reboot since the accept: these are its refusals.
			r = &refusals{taken: prev.estFrame, silence: t.heard[server.Addr()].woke > prev.estFrame}
			t.refusals[server] = r
		}
		r.quiet.add(f.Number)
		return
	}
	t.notListening(t.c.agg, server, f.Number)
}

// rebootSilence is the shortest silence in a node's announces that counts
// as a reboot: 15 rounds at the OS's 64 ms, shorter than a VM's boot.
const rebootSilence = time.Second

// refusals are the SYNs a listener refused after it had accepted, not
// judged yet, placed against the latest silence of rebootSilence or more
// in node-b's announces (a reboot, as far as the capture tells):
// old came before its last announce ahead of the silence, so from the
// boot that accepted (its slot taken); gap in the silence (that boot
// holding its session quietly, or the new one not listening yet); boot
// after the first announce that ended it (the new boot's, not listening
// yet); quiet since node-b's last announce, placed at the next one.
type refusals struct {
	taken                 int // the frame of the accept that took the listener
	old, gap, boot, quiet refusalRun
	// silence: a silence was seen since the accept; without one (no
	// announce times, or none long enough) the refusals cannot be placed.
	silence bool
}

// refusalRun counts refusals and keeps the first MaxFindingFrames frames.
type refusalRun struct {
	n      int
	frames []int
}

func (r *refusalRun) add(frames ...int) {
	r.n++
	r.frames = appendFrames(r.frames, frames...)
}

func (r *refusalRun) merge(o refusalRun) {
	r.n += o.n
	r.frames = appendFrames(r.frames, o.frames...)
}

// frame is the i'th refusal's frame, 0 if not kept.
func (r *refusalRun) frame(i int) int {
	if i < len(r.frames) {
		return r.frames[i]
	}
	return 0
}

// silent reports whether a node's announces at last and then at (zero
// times if unknown) are a silence of rebootSilence or more apart.
func silent(last, at time.Time) bool {
	return !last.IsZero() && !at.IsZero() && at.Sub(last) >= rebootSilence
}

// announce places the refusals at node-b's announce at, its last one
// before at last: a silence puts every refusal before last in old and
// those since in gap; else those since join boot.
func (r *refusals) announce(last, at time.Time) {
	if silent(last, at) {
		r.old.merge(r.gap)
		r.old.merge(r.boot)
		r.gap, r.boot, r.quiet = r.quiet, refusalRun{}, refusalRun{}
		r.silence = true
		return
	}
	r.boot.merge(r.quiet)
	r.quiet = refusalRun{}
}

// notListening notes a SYN to server refused at frame (0 if not kept)
// while node-b was not listening.
func (t *connTable) notListening(a *agg, server netip.AddrPort, frame int) {
	a.add(Info, SESS001, "rst "+server.String(), []int{frame}, "SYN to %v refused: node-b was not listening yet, and node-a redials", server)
}

// slotTaken warns of server's refusals run, refused after the accept at
// frame taken in the same boot.
func (t *connTable) slotTaken(a *agg, server netip.AddrPort, taken int, run refusalRun) {
	for i := range run.n {
		a.add(Warn, SESS001, "rst-taken "+server.String(), []int{taken, run.frame(i)},
			"SYN to %v refused: node-b's listener already took its one connection of this boot (frame %d, §6.2), so node-b refuses every redial until it reboots", server, taken)
	}
}

// beforeReboot notes server's refusals run, refused before node-b accepted
// again (at frame) but not placeable in one boot or the other: its old
// boot's slot taken, or its new boot not listening yet.
func (t *connTable) beforeReboot(a *agg, server netip.AddrPort, frame int, run refusalRun) {
	for i := range run.n {
		a.add(Info, SESS001, "rst-reboot "+server.String(), []int{run.frame(i)},
			"SYN to %v refused before node-b accepted again (frame %d), so it rebooted: its old boot's slot taken, or the new boot not listening yet; node-a redials", server, frame)
	}
}

// injectedBy notes a segment of side dir, and whether the hub injected
// it: while it injected every segment of the side, findings name the side
// as injected.
func (c *tcpConn) injectedBy(dir int, f *Frame) {
	c.segs[dir]++
	if f.Injected {
		c.injected[dir]++
		if len(c.injFrames[dir]) < maxInjFrames {
			c.injFrames[dir] = append(c.injFrames[dir], f.Number)
		}
	}
	c.sess.from[dir] = c.sess.role[dir]
	if c.whollyInjected(dir) {
		c.sess.from[dir] = "injected " + c.sess.role[dir]
	}
}

// whollyInjected reports whether the hub injected every segment of side
// so far, and at least one: no VM plays that side.
func (c *tcpConn) whollyInjected(side int) bool {
	return c.injected[side] > 0 && c.injected[side] == c.segs[side]
}

// end returns the connection's address and port on side (0 the client).
func (c *tcpConn) end(side int) netip.AddrPort {
	if side == 1 {
		return c.key.server
	}
	return c.key.client
}

// joinedMidway decides whether the capture may have begun inside a
// connection first seen at f without a SYN (a segment from side dir): its
// handshake was then not captured, and SESS-002 only warns. The capture
// did not begin inside it, and the missing SYN is a failure (SESS-001),
// when the capture shows the connection opened after it began:
//   - the first segment carries a SYN (a client's SYN|ACK): the connection
//     begins here. A server's SYN-ACK first is a capture that began inside
//     the handshake;
//   - the first segment came more than joinWindow after the capture's first
//     frame: an open connection shows a segment sooner;
//   - either end announced more than announceGrace after the capture's
//     first frame and before this segment: it held no connection then
//     (announces stop once dial or accept yields one, §2.2), so this one
//     opened inside the capture, with its handshake;
//   - (segment) the first segment's receiver answers it with a reset while
//     its sender had announced in the capture: neither end held it.
//
// Without frame times only the first and last apply. Frames missing from
// the capture (a SYN it lost) also read as a connection without a SYN.
func (t *connTable) joinedMidway(conn *tcpConn, f *Frame, p *packet, dir int) {
	conn.firstFrame, conn.firstDir = f.Number, dir
	start := t.c.start
	var late announceMark
	for side := range 2 {
		a, ok := t.heard[conn.end(side).Addr()]
		conn.heard[side] = ok
		if ok && !start.IsZero() && !a.at.IsZero() && a.at.Sub(start) > announceGrace && a.at.After(late.at) {
			late = a
		}
	}
	switch {
	case dir == 0 && p.flags&tcpSYN != 0:
		conn.notJoined = fmt.Sprintf("its first segment (frame %d) carries SYN with ACK, so the connection begins there without a SYN", f.Number)
	case !start.IsZero() && !f.Time.IsZero() && f.Time.Sub(start) > joinWindow:
		conn.notJoined = fmt.Sprintf("its first segment (frame %d) came %v after the capture's first frame, and a connection open when the capture began shows one within %v (node-b's keep-alive, §6.1)",
			f.Number, f.Time.Sub(start).Round(time.Millisecond), joinWindow)
	case late.frame != 0:
		conn.notJoined = fmt.Sprintf("%s announced at frame %d, after the capture began and before the connection's first segment (frame %d); announces stop once dial or accept yields a connection (§2.2), so it opened inside the capture",
			roleName(t.announcer(conn, late)), late.frame, f.Number)
	default:
		conn.joined = true
	}
}

// announcer is the end of conn whose last announce is a.
func (t *connTable) announcer(conn *tcpConn, a announceMark) netip.Addr {
	if t.heard[conn.key.client.Addr()] == a {
		return conn.key.client.Addr()
	}
	return conn.key.server.Addr()
}

// redial reports whether a client SYN (without ACK) on conn's 4-tuple
// starts a new connection: node-a drops a failed dial without FIN and
// redials from the same port (§6.2), and a rebooted node-a dials from it
// again, maybe with the same ISN (smoltcp's RNG has a constant seed, §9.4).
//
// A SYN with another ISN is a new connection, and so is any SYN on a
// connection first seen without one (midstream), wherever its sequence
// number lies: the client had sent bytes past its SYN, so it is not
// resending it (or the capture began at the SYN-ACK, and following the
// connection from the resent SYN loses nothing). A SYN repeating the ISN
// is a new connection after a reset or a close. Before the client has sent
// data it is a resent SYN. After, it is a new boot's SYN only if the wire
// shows the reboot: the client announced after its last segment on the
// connection (a boot announces before it dials, §6.1, and a node holding a
// session does not, §2.2; node-b's keep-alives to the old boot may come
// later), or the connection fell silent for reincarnationSilence.
// Otherwise it is a resent SYN, even on an ingress record: a sender past
// its SYN has no reason to resend it (RFC 9293), but that is for the
// checker to judge, not to assume. DHCP and ARP are no evidence: both
// recur during a live session (§6.1).
func (t *connTable) redial(conn *tcpConn, f *Frame, p *packet) bool {
	h := &conn.half[0]
	switch {
	case !h.synSeen:
		return conn.midstream // not a connection opened by a SYN the hub dropped
	case h.isn != p.seq:
		return true
	case conn.reset || (conn.half[0].closed && conn.half[1].closed):
		return true
	case h.delivered == 0 && !h.finSeen:
		return false // the client may still be waiting for the SYN-ACK
	}
	if a, ok := t.heard[conn.key.client.Addr()]; ok && a.seq > conn.clientSeq {
		return true
	}
	return !f.Time.IsZero() && !conn.lastTime.IsZero() && f.Time.Sub(conn.lastTime) >= reincarnationSilence
}

// dropped remembers a segment the hub did not deliver to its receiver, or
// delivered corrupted (c).
func (t *connTable) dropped(f *Frame, p *packet, c cause) {
	conn, dir := t.lookup(p)
	if conn == nil {
		if p.flags&tcpSYN == 0 || p.flags&tcpACK != 0 || !t.c.disc.isSessionPort(p.dstPort) {
			return
		}
		conn = t.open(connKey{p.srcAP(), p.dstAP()}, f, false)
		if conn == nil {
			return
		}
	}
	conn.injectedBy(dir, f)
	if dir == 0 {
		conn.clientSeq = t.c.frames
	}
	if !f.Time.IsZero() {
		conn.lastTime = f.Time
	}
	conn.drops[dir][c]++
	conn.half[dir].dropped(p.seq, len(p.payload), p.flags, f.Number, c)
}

// held notes a copy of a segment the hub delivered hold after it came in:
// the retransmissions sent meanwhile, of its bytes or of the bytes it
// acknowledged, are the hub's doing.
func (t *connTable) held(f *Frame, p *packet, hold time.Duration) {
	conn, dir := t.lookup(p)
	if conn == nil || f.Time.IsZero() {
		return
	}
	since := f.Time.Add(-hold)
	n := uint32(len(p.payload))
	if p.flags&tcpSYN != 0 {
		n++
	}
	if p.flags&tcpFIN != 0 {
		n++
	}
	if n > 0 {
		conn.half[dir].heldCopy(p.seq, p.seq+n, since, f.Number)
	}
	if p.flags&tcpACK != 0 {
		conn.half[1-dir].heldAck(p.ack, since, f.Number)
	}
}

func (t *connTable) open(k connKey, f *Frame, midstream bool) *tcpConn {
	if len(t.conns) >= t.c.opts.MaxConns {
		// Make room: the oldest connection that has ended goes first.
		for _, old := range t.order {
			if old.reset || (old.half[0].closed && old.half[1].closed) {
				t.retire(old)
				break
			}
		}
	}
	if len(t.conns) >= t.c.opts.MaxConns {
		t.limit++
		t.limitFr = appendFrames(t.limitFr, f.Number)
		return nil
	}
	conn := &tcpConn{key: k, midstream: midstream, subject: fmt.Sprintf("%v->%v", k.client, k.server)}
	for i := range conn.half {
		conn.half[i].maxBuffered = t.c.opts.MaxBuffered
	}
	conn.sess = newSession(t.c, conn)
	conn.sinks[0] = func(b []byte, frame int) { conn.sess.data(0, b, frame) }
	conn.sinks[1] = func(b []byte, frame int) { conn.sess.data(1, b, frame) }
	conn.revDrop[0] = func() (cause, bool) { return conn.reverseDrop(0) }
	conn.revDrop[1] = func() (cause, bool) { return conn.reverseDrop(1) }
	t.conns[k] = conn
	t.order = append(t.order, conn)
	return conn
}

// retire ends a connection for good: its end-of-stream findings go into
// the checker's own findings.
func (t *connTable) retire(conn *tcpConn) {
	t.endConn(t.c.agg, conn)
	if conn.sess.hsDone {
		t.sessions++
	}
	t.retired++
	if conn.joined {
		t.retiredJoined++
	}
	delete(t.conns, conn.key)
	for i, o := range t.order {
		if o == conn {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
}

// checkDial judges node-a's SYN (SESS-001).
func (t *connTable) checkDial(conn *tcpConn, f *Frame, p *packet) {
	a := t.c.agg
	fr := []int{f.Number}
	k := conn.key
	ok := true
	if k.server.Addr() == conformance.RoleA.Addr() && k.server.Port() == conformance.SessionPortA {
		a.add(Fail, SESS001, "to-a "+conn.subject, fr, "connection to node-a's listener %v, which the OS never dials", k.server)
		return
	}
	if k.client.Addr() != conformance.RoleA.Addr() {
		ok = false
		a.add(Fail, SESS001, "client "+conn.subject, fr, "connection to %v from %v, not node-a (10.42.0.10): whatever reaches node-b's session port first takes its only accept slot (§6.2)", k.server, k.client.Addr())
	}
	if port := conformance.DialPort(p.srcMAC[5]); k.client.Port() != port {
		// §6.1 describes the port [inferred], like DISC-005's: a deviation
		// says the dialler is not the OS's, not that the session is broken.
		ok = false
		a.add(Warn, SESS001, "port "+conn.subject, fr, "%s dialled from port %d: the OS dials from 40000 + mac[5] = %d (MAC %s) and redials from the same port (§6.1)",
			conn.sess.by(0, fr...), k.client.Port(), port, macString(p.srcMAC))
	}
	want, via := t.dialTarget()
	if k.server != want {
		ok = false
		a.add(Fail, SESS001, "target "+conn.subject, fr, "%s dialled %v, but %s", conn.sess.by(0, fr...), k.server, via)
	}
	if _, learned := t.c.disc.announced(conformance.RoleB.String()); !learned && t.c.opts.Profile == ProfileNexus {
		a.add(Info, NX06, "", fr, "node-a dialled node-b's fallback address with no node-b announce delivered: the OS checks identity before the handshake and passes when discovery is empty")
	}
	if prev := t.accepted[k.server]; prev != nil && prev != conn {
		a.add(Info, SESS001, "redial "+k.server.String(), fr, "node-a dials %v again; the OS's node-b accepts one connection per boot (§6.2), so only a fresh node-b can answer", k.server)
	}
	if ok {
		a.pass(SESS001, f.Number)
	}
}

// dialTarget is where node-a should dial: node-b's last announce delivered
// to node-a, by unicast or broadcast (source address, announced port), or
// the hard-coded fallback.
func (t *connTable) dialTarget() (netip.AddrPort, string) {
	if dev, ok := t.c.disc.announced(conformance.RoleB.String()); ok {
		ap := netip.AddrPortFrom(dev.learnedAddr, dev.learnedPort)
		return ap, fmt.Sprintf("node-b announced %v (frame %d)", ap, dev.learnedFrame)
	}
	ap := netip.AddrPortFrom(conformance.RoleB.Addr(), conformance.SessionPortB)
	return ap, fmt.Sprintf("with no node-b announce delivered the OS dials the fallback %v", ap)
}

// checkAccept notes node-b's SYN-ACK: the OS's listener becomes the
// connection and is never re-armed.
func (t *connTable) checkAccept(conn *tcpConn, f *Frame) {
	prev := t.accepted[conn.key.server]
	if prev == nil {
		if len(t.accepted) < t.c.opts.MaxConns {
			t.accepted[conn.key.server] = conn
		}
		return
	}
	if prev != conn {
		if r := t.refusals[conn.key.server]; r != nil {
			// The listener is back: node-b rebooted. A silence in its
			// announces up to now is one too.
			server, a := conn.key.server, t.c.agg
			if h, ok := t.heard[server.Addr()]; ok {
				r.announce(h.at, f.Time)
			} else {
				r.boot.merge(r.quiet)
			}
			if r.silence {
				t.slotTaken(a, server, r.taken, r.old)
				t.beforeReboot(a, server, f.Number, r.gap)
				for i := range r.boot.n {
					t.notListening(a, server, r.boot.frame(i))
				}
			} else {
				t.beforeReboot(a, server, f.Number, r.boot)
			}
			delete(t.refusals, conn.key.server)
		}
		t.c.agg.add(Warn, SESS001, "second-accept "+conn.key.server.String(), []int{prev.estFrame, f.Number},
			"%v accepted a second connection: the OS's node-b accepts one per boot (§6.2), so node-b rebooted, or this listener is not the OS's", conn.key.server)
	}
}

// announceFrom notes an announce from ip for DISC-008: once a node's
// application holds the session connection (it has sent on it), it stops
// announcing, unless the handshake then fails. An announce after that is
// judged later, since a node that rebooted announces again while its old
// connection, which ended without FIN or RST, is still followed: it is late
// if the session completed and the node then went on using the connection
// (or the input ends first); it is forgotten if the connection is reset or
// its client dials again on its 4-tuple (a failed session, or a new boot).
//
// An injected announce says nothing of the VM at ip: it counts only where
// the injector plays the node, for a connection side whose every segment
// the hub injected, and as ip's last announce when no VM sends from ip
// (a replay's recorded node).
func (t *connTable) announceFrom(ip netip.Addr, f *Frame) {
	if !f.Injected || !t.c.where.known(ip) {
		if last, ok := t.heard[ip]; ok || len(t.heard) < maxHeard {
			m := announceMark{at: f.Time, seq: t.c.frames, frame: f.Number, woke: last.woke}
			if ok && silent(last.at, f.Time) {
				m.woke = f.Number
			}
			for server, r := range t.refusals {
				if server.Addr() == ip && ok {
					r.announce(last.at, f.Time)
				}
			}
			t.heard[ip] = m
		}
	}
	for _, conn := range t.order {
		side := 0
		switch ip {
		case conn.key.client.Addr():
		case conn.key.server.Addr():
			side = 1
		default:
			continue
		}
		if conn.reset || (conn.half[0].closed && conn.half[1].closed) || conn.appFrame[side] == 0 {
			continue // a session that ended, or that the node has not begun
		}
		if f.Injected && !conn.whollyInjected(side) {
			continue // not the node's own
		}
		if !f.Time.IsZero() && !conn.appTime[side].IsZero() && f.Time.Sub(conn.appTime[side]) <= announceGrace {
			continue
		}
		conn.late[side].add(f.Number)
	}
}

// lateAnnounces fails DISC-008 for the first n pending late announces of
// side, one count each.
func (t *connTable) lateAnnounces(a *agg, conn *tcpConn, side, n int) {
	l := &conn.late[side]
	node := conn.sess.from[side]
	for i := range n {
		var frames []int
		if i < len(l.frames) {
			frames = l.frames[i : i+1]
		}
		a.add(Fail, DISC008, fmt.Sprint(conn.subject, side), frames, "%s announced after it began the session on %s: the OS stops announcing once dial or accept yields a connection, until the session fails or the node reboots",
			node, conn.subject)
	}
}

// end adds the end-of-run findings of every connection still followed.
func (t *connTable) end(a *agg) {
	sessions := t.sessions
	joinedOnly := t.retiredJoined == t.retired
	for _, conn := range t.order {
		t.endConn(a, conn)
		if conn.sess.hsDone {
			sessions++
		}
		joinedOnly = joinedOnly && conn.joined
	}
	for _, server := range slices.SortedFunc(maps.Keys(t.refusals), netip.AddrPort.Compare) {
		r := t.refusals[server]
		for _, run := range []refusalRun{r.old, r.gap, r.boot, r.quiet} {
			t.slotTaken(a, server, r.taken, run)
		}
	}
	if t.limit > 0 {
		a.add(Warn, TCP002, "conns", t.limitFr, "more than %d session connections at once: %d were not followed", t.c.opts.MaxConns, t.limit)
	}
	if len(t.order) == 0 && t.retired == 0 {
		a.add(Fail, SESS001, "none", nil, "no TCP connection to a session port (node-b's announced port or 34568): no session was seen")
	} else if sessions == 0 && joinedOnly {
		// A capture started inside every connection (a checker attached
		// to a running hub): the handshake happened, or failed, unseen.
		a.add(Warn, SESS002, "none", nil, "no handshake was captured: the capture starts inside every connection to a session port")
	} else if sessions == 0 {
		a.add(Fail, SESS002, "none", nil, "no handshake completed successfully")
	}
}

// endConn adds one connection's end-of-stream findings to a, without
// changing the connection.
func (t *connTable) endConn(a *agg, conn *tcpConn) {
	if conn.midstream && !conn.joined {
		a.add(Fail, SESS001, "nosyn "+conn.subject, []int{conn.firstFrame}, "%s has no SYN, and the capture did not begin inside it: %s", conn.subject, conn.notJoined)
	}
	if conn.sess.hsDone {
		// Announces still pending: nothing came to explain them.
		for side := range conn.late {
			t.lateAnnounces(a, conn, side, conn.late[side].n)
		}
		if !conn.lateFailed && conn.late[0].n+conn.late[1].n == 0 {
			a.pass(DISC008, conn.estFrame)
		}
	}
	for dir := range conn.half {
		h := &conn.half[dir]
		from := conn.sess.from[dir]
		if h.retrans > 0 {
			frames := append(append([]int(nil), h.explainFrames...), h.retransFrames...)
			from := conn.sess.by(dir, h.retransFrames...)
			if h.explained == h.retrans {
				a.add(Info, TCP001, conn.subject+fmt.Sprint(dir), frames, "%s retransmitted %s on %s, each explained by %s", from, plural(h.retrans, "segment"), conn.subject, explanation(h))
			} else {
				others := "a sender timeout or lost capture frames"
				if t.c.perVM {
					others = "a sender timeout, lost capture frames or a duplicate the hub delivered, which only the receiver's file shows"
				}
				a.add(Warn, TCP001, conn.subject+fmt.Sprint(dir), frames, "%s retransmitted %s on %s, %d of them explained by a frame the hub dropped, corrupted or held%s; the others follow %s", from, plural(h.retrans, "segment"), conn.subject, h.explained, explained(h), others)
			}
		}
		if h.capDropped > 0 {
			a.add(Warn, TCP002, conn.subject+fmt.Sprint(dir), h.capFrames, "%s's stream on %s buffered more than %d out-of-order bytes: %d bytes were not reassembled, so checks of this stream stop at the hole", from, conn.subject, h.maxBuffered, h.capDropped)
		}
		if h.outOfWindow > 0 {
			a.add(Warn, TCP002, "window "+conn.subject+fmt.Sprint(dir), h.outOfWinFrames, "%d segments from %s lie more than 1 MiB ahead of the stream on %s and were ignored", h.outOfWindow, from, conn.subject)
		}
		if n, fr := h.hole(); n > 0 {
			a.add(Warn, TCP003, conn.subject+fmt.Sprint(dir), []int{fr}, "%s's stream on %s ends with %d bytes beyond a hole: the capture lacks a segment, so checks stop there", from, conn.subject, n)
		}
	}
	conn.sess.end(a)
}

// causeText says what a retransmission's cause was, for TCP-001; causeWord
// names it in a count.
var (
	causeText = [numCauses]string{
		causeLoss:    "a frame the hub did not deliver (loss fault)",
		causeCorrupt: "a copy the hub corrupted, which its receiver discards (corrupt fault)",
		causeHeld:    "a frame the hub held, or its ACK, while the sender's timer ran (delay fault)",
	}
	causeWord = [numCauses]string{causeLoss: "dropped", causeCorrupt: "corrupted", causeHeld: "held"}
)

// explanation says what explains every retransmission of h: one cause, or
// each with its count.
func explanation(h *stream) string {
	var parts []string
	last := causeLoss
	for c, n := range h.by {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d by %s", n, causeText[c]))
			last = cause(c)
		}
	}
	if len(parts) == 1 {
		return causeText[last]
	}
	return "the hub's faults: " + strings.Join(parts, ", ")
}

// explained counts h's explained retransmissions by cause, if any:
// " (2 dropped, 1 held)".
func explained(h *stream) string {
	var parts []string
	for c, n := range h.by {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, causeWord[c]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
