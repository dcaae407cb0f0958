package replay

import (
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Ingress: how one captured record becomes an event on the core. A record
// is given to the port its channel feeds (an l2hub capture's interface)
// or, for a per-VM capture, the port of its source MAC's owner, copies and
// echoes aside; at its time, virtual time moving on to it; and at its
// length on the wire when it was cut short. A frame the live hub's control
// API injected is injected again.

// packet replays s's head, if it is ingress.
func (x *run) packet(s *source) {
	p := &s.head
	ch := x.r.channelOf(s, p)
	c := &x.r.chans[ch]
	var id hub.PortID
	if c.l2hub {
		s.missing += capture.Gaps(p.Comment)
		s.leftOut += capture.LinesLeftOut(p.Comment)
		if s.fresh { // the run's policy, and its VMs, from this section's header on
			s.fresh = false
			h := capHeader{s.in.Path, s.meta}
			x.runs.add(h)
			x.scheduleSwitch(h, p)
			x.sectionPeers(s, p)
		}
		x.edits(s, p)
		if p.Dir == capture.DirOut {
			x.res.Egress++
			x.inject(s, ch, p)
			return
		}
		id = x.chanPort(ch)
	} else {
		var ok bool
		if id, ok = x.foreignPort(ch, p); !ok {
			return
		}
	}
	if x.stop != nil { // too many ports
		return
	}
	x.advance(s, p.Time)
	if x.stop != nil {
		return
	}
	cut := s.cut
	f := x.frameOf(s, p)
	if s.cut > cut && x.byteRules.lacks(x.core.PortName(id), x.egressOf(id, p.Data), p.Data) {
		s.cutRead++
	}
	x.res.Replayed++
	x.core.Ingress(id, f)
}

// frameOf is p's frame as the hub is given it: a record cut short (a
// snaplen) at its length on the wire, the missing bytes zero, so that
// what depends on the length (mtu, rate, length matches) is decided as the
// live hub decided it. s counts such frames.
func (x *run) frameOf(s *source, p *capture.Packet) *hub.Frame {
	n, cut, long := frameLen(p)
	if cut {
		s.cut++
	}
	if long {
		s.long++
	}
	f := hub.NewFrame(n)
	b := f.Bytes()
	clear(b[copy(b, p.Data):]) // a pooled frame's bytes are not zero
	return f
}

// frameLen is the length of the frame frameOf gives for p: its length on
// the wire when the record was cut short (cut), unless that is more than
// a hub takes (long: a corrupt length, or a frame no QEMU peer sends).
func frameLen(p *capture.Packet) (n int, cut, long bool) {
	n = len(p.Data)
	if p.OrigLen > n {
		cut = true
		if p.OrigLen <= hub.DefaultMaxFrame {
			n = p.OrigLen
		} else {
			long = true
		}
	}
	return n, cut, long
}

// advance moves virtual time to t, a frame of s's: the timers before it
// fire at their own time. Virtual time does not go back: a frame stamped
// before the time reached (a capture's clock that ran backwards) is
// replayed at that time, and s counts it.
func (x *run) advance(s *source, t time.Time) {
	if t.IsZero() { // a Simple Packet Block's: it has no time, and none is its
		s.untimed++
		return
	}
	if back := x.clock.Now().Sub(t); back > 0 {
		s.back++
		s.mostBack = max(s.mostBack, back)
	}
	x.advanceTo(t)
}

// inject sends again, at its time, a frame the live hub's control API
// injected (an egress record with hub.InjectNotes' note): it went to the
// port's peer without crossing the policy, and does so again.
func (x *run) inject(s *source, ch int, p *capture.Packet) {
	if !injected(p) {
		return
	}
	x.advance(s, p.Time)
	if x.stop != nil {
		return
	}
	id := x.chanPort(ch)
	if x.stop != nil {
		return
	}
	f := x.frameOf(s, p)
	x.res.Injected++
	x.core.Inject(id, f, hub.InjectNotes)
}

// injected reports whether p, an egress record of an l2hub capture, is
// a frame the live hub's control API injected (hub.InjectNotes' note).
func injected(p *capture.Packet) bool {
	if !strings.Contains(p.Comment, "inject") {
		return false
	}
	_, notes := hub.ParseNotes(p.Comment, 8)
	return slices.ContainsFunc(notes, func(n hub.ParsedNote) bool { return n.Action == "inject" && n.Link == "" })
}

// egressOf says where the core will send a frame entering port id whose
// captured bytes are data: in switch mode, a unicast to a MAC learned on
// another port goes there alone, one learned on its own port (or a frame
// to its own source) nowhere; anything else floods.
func (x *run) egressOf(id hub.PortID, data []byte) egress {
	if x.core.Mode() == hub.ModeSwitch && len(data) >= 12 && data[0]&1 == 0 {
		dst := [6]byte(data[0:6])
		if dst == [6]byte(data[6:12]) { // learned on id before the lookup
			return egress{none: true}
		}
		if to, ok := x.core.LearnedPort(dst); ok {
			if to == id {
				return egress{none: true}
			}
			return egress{one: x.core.PortName(to)}
		}
	}
	return egress{isPort: x.isPort}
}

// isPort reports whether the hub has a port named name.
func (x *run) isPort(name string) bool {
	_, ok := x.core.Lookup(name)
	return ok
}

// chanPort returns the port a channel feeds by default, adding it (a port
// the capture described after the start) if the hub lacks it.
func (x *run) chanPort(ch int) hub.PortID {
	for len(x.chPID) <= ch {
		x.chPID = append(x.chPID, hub.NoPort)
	}
	if id := x.chPID[ch]; id != hub.NoPort {
		return id
	}
	c := x.r.chans[ch]
	id := x.addPort(c.name, c.desc)
	x.chPID[ch] = id // hub.NoPort past the bound, and the replay stops
	return id
}

// foreignPort attributes a frame of a per-VM capture: skipped when it is
// another input's copy or an echo, else the port of its source MAC.
//
// A frame whose source MAC another input owns is that input's copy,
// except where the owner's input does not cover its time (covers): the
// files one link's capture is split into by time (editcap -c, serve's
// rotation or set-policy) share their MACs and hold none of one
// another's frames. Such a frame is replayed from the input that holds
// it, on its sender's port, unless it is a copy of one its sender's
// input ended with, or of one replayed so already (held); and the
// sender's own copies of one replayed so are then the copies.
func (x *run) foreignPort(ch int, p *capture.Packet) (hub.PortID, bool) {
	if len(p.Data) < hub.EthHeaderLen {
		return x.chanPort(ch), true // a runt: the core counts it on the input's port
	}
	var mac [6]byte
	copy(mac[:], p.Data[6:12])
	o, ok := x.owners[mac]
	if !ok {
		o = owner{ch: ch, how: ownerLate}
		x.owners[mac] = o
	}
	own := o.ch == ch
	if !own && x.covers(o.ch, p) {
		x.res.Duplicates++
		return hub.NoPort, false
	}
	if x.r.chans[ch].echo && !p.Time.IsZero() { // an echo is told by its time
		e := x.echo[ch]
		if e == nil {
			e = newFrameWindow(echoWindow)
			x.echo[ch] = e
		}
		if e.isEcho(p.Time, p.Data) {
			x.res.Echoes++
			return hub.NoPort, false
		}
	}
	if x.multi && !p.Time.IsZero() {
		sent, lent := x.window(x.sent, o.ch), x.window(x.lent, o.ch)
		lent.expire(p.Time)
		switch {
		case own:
			u := x.window(x.unseen, ch)
			x.res.CopiesUnseen += u.expire(p.Time)
			u.match(p.Time, p.Data, matchAll)
			if lent.match(p.Time, p.Data, matchPeek) {
				x.res.Duplicates++ // another input's copy was replayed for it
				return hub.NoPort, false
			}
			sent.add(p.Time, p.Data)
		case sent.match(p.Time, p.Data, matchPeek) || lent.match(p.Time, p.Data, matchPeek):
			x.res.Duplicates++ // held: a copy of a frame replayed already
			return hub.NoPort, false
		default:
			x.res.ForSender++
			lent.add(p.Time, p.Data)
		}
	}
	if name, ok := x.r.macPort[mac]; ok {
		return x.addPort(name, "replay of source MAC "+macString(mac)), true
	}
	if x.r.auto {
		return x.addPort(autoPort(mac), "replay of source MAC "+macString(mac)+" in "+x.r.chans[o.ch].desc), true
	}
	return x.chanPort(o.ch), true
}

// covers reports whether the input of channel o, which sent p's source
// MAC, covers p's time, so that p is a copy of a frame in it: it covers
// it unless it has not started by then, or ended before. A copy whose
// frame o has not shown within copyWindow is counted
// (Result.CopiesUnseen) once o's own frames have passed it.
func (x *run) covers(o int, p *capture.Packet) bool {
	if p.Time.IsZero() {
		return true
	}
	src := x.srcs[x.r.chans[o].input]
	if src.ok && src.packets == 1 && p.Time.Before(src.head.Time) || !src.ok && p.Time.After(src.last) {
		return false
	}
	sent := x.window(x.sent, o)
	if sent.expire(p.Time); !sent.match(p.Time, p.Data, matchPeek) {
		x.window(x.unseen, o).add(p.Time, p.Data)
	}
	return true
}

// window returns m's frameWindow of channel ch, of copyWindow, making it
// on first use.
func (x *run) window(m map[int]*frameWindow, ch int) *frameWindow {
	w := m[ch]
	if w == nil {
		w = newFrameWindow(copyWindow)
		m[ch] = w
	}
	return w
}
