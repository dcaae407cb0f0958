package checker

import (
	"fmt"
	"net/netip"
	"time"

	"l2hub/conformance"
)

// SESS-001: node-a's dial (its port, its target, what discovery told it)
// and node-b's listener, which accepts one connection per boot (§6.2). A
// SYN node-b resets is judged by when it came: before the listener was up,
// after its one accept, or across a reboot that a silence in node-b's
// announces shows (refusals, placed when the listener accepts again or the
// run ends).

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
