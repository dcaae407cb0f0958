package checker

import (
	"fmt"
	"net/netip"
	"time"
)

// What a node's announces say of its connections. A node announces until
// dial or accept gives it a session (§2.2), so the connection table keeps
// each address's last announce (heard) as evidence: that the capture did
// not begin inside a connection first seen without a SYN (joinedMidway),
// that a SYN repeating an ISN is a new boot's (redial), and that an
// announce after a node began its session is late (DISC-008) unless the
// session then ended. disc.go judges the announces themselves and tells
// the table of each (announceFrom).

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
