package checker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The connection table follows each TCP connection to a session port: it
// opens one at a SYN (or at a segment of a connection the capture may have
// begun inside), feeds each direction's segments to its stream (tcp.go),
// whose reassembled bytes go to the connection's session (session.go), and
// retires it when a redial on its 4-tuple replaces it or a new one needs its
// room. At the end of the run it adds each connection's findings: TCP-001
// (retransmissions and what the hub did that explains them), TCP-002,
// TCP-003, and the session's own.
// dial.go judges the dial and the accept, announces.go what the nodes'
// announces say of the connections.

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
	// unfollowed holds the connections not followed because MaxConns were
	// open, up to maxUnfollowed of them; unfollowedMore says there were more.
	unfollowed     map[connKey]struct{}
	unfollowedMore bool
	limitFr        []int
	sessions       int // connections whose handshake completed, retired or live
	retired        int
	// retiredJoined counts the retired connections the capture joined
	// midway: their handshakes could not be captured.
	retiredJoined int
	// heard is each address's last announce, the evidence that it held no
	// session then (announces stop once dial or accept yields one, §2.2).
	heard map[netip.Addr]announceMark
}

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

// maxUnfollowed bounds the connections the TCP-002 limit warning counts one
// by one: a capture of untrusted traffic can hold any number of 4-tuples.
const maxUnfollowed = 1024

// notFollowed notes a segment of connection k, which is not followed. Every
// segment of it comes here, so k is counted once, by its first segment.
func (t *connTable) notFollowed(k connKey, f *Frame) {
	if _, ok := t.unfollowed[k]; ok {
		return
	}
	if len(t.unfollowed) >= maxUnfollowed {
		t.unfollowedMore = true
		return
	}
	if t.unfollowed == nil {
		t.unfollowed = make(map[connKey]struct{})
	}
	t.unfollowed[k] = struct{}{}
	t.limitFr = appendFrames(t.limitFr, f.Number)
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
		t.notFollowed(k, f)
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
	if n := len(t.unfollowed); n > 0 {
		more := ""
		if t.unfollowedMore {
			more = "more than "
		}
		a.add(Warn, TCP002, "conns", t.limitFr, "more than %d session connections at once: %s%d were not followed", t.c.opts.MaxConns, more, n)
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
			a.add(Warn, TCP002, conn.subject+fmt.Sprint(dir), h.capFrames, "%s's stream on %s buffered more than %s: %s %s not reassembled, so checks of this stream stop at the hole", from, conn.subject, plural(h.maxBuffered, "out-of-order byte"), plural(h.capDropped, "byte"), agree(h.capDropped, "was", "were"))
		}
		if h.outOfWindow > 0 {
			a.add(Warn, TCP002, "window "+conn.subject+fmt.Sprint(dir), h.outOfWinFrames, "%s from %s %s more than 1 MiB ahead of the stream on %s and %s ignored", plural(h.outOfWindow, "segment"), from, agree(h.outOfWindow, "lies", "lie"), conn.subject, agree(h.outOfWindow, "was", "were"))
		}
		if n, fr := h.hole(); n > 0 {
			a.add(Warn, TCP003, conn.subject+fmt.Sprint(dir), []int{fr}, "%s's stream on %s ends with %s beyond a hole: the capture lacks a segment, so checks stop there", from, conn.subject, plural(n, "byte"))
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
