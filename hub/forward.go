package hub

// This file holds the forwarding path, the core's hot path: Ingress takes
// a frame from a port, finds its destinations (the flood order, or the
// learned port), asks the policy about each link and delivers each copy now
// or puts it in the timer heap (timers.go, delay.go); deliver hands a copy
// to its port's egress queue if flow control admits it (flow.go); Inject
// delivers a frame that no port sent. Scratch kept in the Core makes a
// forwarded unicast frame cost no allocation.

import "time"

// EthHeaderLen is the length of an Ethernet II header; anything shorter is a runt.
const EthHeaderLen = 14

type delivery struct {
	port  PortID
	frame *Frame
	notes []Note
	full  bool // the delay bound was reached: drop and say so
}

// Ingress forwards one frame that arrived on port id at the clock's current
// time. It takes over the caller's reference to f. Timers due by now run
// first, so earlier deadlines are delivered before it.
func (c *Core) Ingress(id PortID, f *Frame) {
	now := c.clock.Now()
	if len(c.timers) > 0 {
		c.runDue(now)
	}
	p := c.port(id)
	if p == nil {
		f.Release()
		return
	}
	data := f.Bytes()
	p.stats.RxFrames.Add(1)
	p.stats.RxBytes.Add(uint64(len(data)))
	if len(data) < EthHeaderLen {
		p.stats.Drop(DropRunt)
		f.Release()
		return
	}
	t := now.Sub(c.epoch) // one time.Time operation per frame; the rest is integer arithmetic
	c.dsts = c.destinations(p, data, t, c.dsts[:0])

	c.notes = c.notes[:0]
	if f.origin != "" {
		c.notes = append(c.notes, Note{Action: "from", Detail: f.origin})
	}
	c.pending = c.pending[:0]
	c.pendNotes = c.pendNotes[:0]
	delivered, policyDrop := false, false
	elapsed := t - c.startOff
	for _, dst := range c.dsts {
		dp := c.ports[dst]
		d := &c.dec
		d.Reset()
		if c.policy != nil {
			c.policy.Decide(elapsed, Link{From: id, To: dst, FromName: p.name, ToName: dp.name}, data, d)
		}
		if len(d.Notes) > 0 {
			link := p.linkName(dp)
			for _, n := range d.Notes {
				n.Link = link
				c.notes = append(c.notes, n)
			}
		}
		if d.Drop {
			policyDrop = true
			dp.stats.Drop(DropPolicy)
			p.link(dst).drops++
			continue
		}
		delivered = true
		if len(d.Copies) == 0 {
			f.Retain()
			c.pending = append(c.pending, delivery{port: dst, frame: f})
			continue
		}
		for _, cp := range d.Copies {
			cf := f
			if cp.Frame != nil {
				cf = FrameOf(cp.Frame)
			} else {
				f.Retain()
			}
			if cp.Delay <= 0 {
				c.pending = append(c.pending, delivery{port: dst, frame: cf, notes: c.keepNotes(cp.Notes)})
				continue
			}
			mark := dp.pauses()
			fp := cf.Footprint()
			if c.delayedFrames >= c.maxDelayedFrames || c.delayedBytes+fp > c.maxDelayedBytes ||
				!mark && (c.delayedFrames >= c.dhigh || c.delayedBytes >= c.dhighBytes) {
				c.pending = append(c.pending, delivery{port: dst, frame: cf, notes: c.keepNotes(cp.Notes), full: true})
				if mark && c.delayedFrames > 0 { // they will free the room: hold from until they do
					c.delayHigh = true
					c.hold(&c.markWaiters, id, now)
				}
				continue
			}
			c.delayedFrames++
			c.delayedBytes += fp
			dp.delayed++
			dp.delayedBytes += fp
			if mark {
				c.markFrames++
				c.markBytes += fp
				if hi, hiBytes := c.markHigh(); c.markFrames >= hi || c.markBytes >= hiBytes {
					c.delayHigh = true
				}
			}
			c.seq++
			c.timers.push(timer{at: now.Add(cp.Delay), sent: now, seq: c.seq, port: dst, from: id, frame: cf, notes: c.holdNotes(cp.Notes), mark: mark})
			c.holdDelayed(dp, id, now)
		}
	}

	if len(c.observers) > 0 {
		c.ev = Event{
			Time: now, Port: id, PortName: p.name, Dir: Ingress, Frame: data,
			Dropped: policyDrop && !delivered, Notes: c.notes,
		}
		for _, o := range c.observers {
			o.Observe(&c.ev)
		}
	}
	for i := range c.pending {
		d := &c.pending[i]
		if d.full {
			c.dropCopy(now, d.port, d.frame, d.notes, id, DropDelayFull, delayFullNote)
		} else {
			c.deliver(now, d.port, d.frame, d.notes, id)
		}
		*d = delivery{}
	}
	f.Release()
}

// destinations appends the ports a frame from p goes to, in flood order.
func (c *Core) destinations(p *corePort, data []byte, now time.Duration, dsts []PortID) []PortID {
	if c.mode == ModeSwitch {
		c.learn(macKeyOf(data[6:12]), p.id, now)
		if data[0]&1 == 0 { // unicast
			if e, ok := c.macs[macKeyOf(data[0:6])]; ok && now-e.seen <= c.aging {
				switch {
				case e.port == p.id:
					p.stats.Drop(DropReflect)
					return dsts
				case p.horizon != "" && c.ports[e.port].horizon == p.horizon:
					p.stats.Drop(DropSplitHorizon)
					return dsts
				}
				return append(dsts, e.port)
			}
		}
	}
	for _, id := range c.order {
		if id != p.id && (p.horizon == "" || c.ports[id].horizon != p.horizon) {
			dsts = append(dsts, id)
		}
	}
	return dsts
}

// deliver hands one reference to f to port dst's egress, if the port's
// flow control admits it, and returns why it did not (DropNone if it did).
// from is the port the frame came in on (NoPort for an injected frame):
// the sender to pause when what waits for dst passed a mark.
func (c *Core) deliver(at time.Time, dst PortID, f *Frame, notes []Note, from PortID) DropReason {
	dp := c.tombstone(dst)
	var link *portLink // nil for an injected frame
	if from != NoPort {
		link = c.ports[from].link(dst)
	}
	if dp == nil {
		f.Release()
		return DropDown
	}
	var depth QueueDepth
	var reason DropReason
	var why Note
	if dp.out == nil {
		reason, why = DropDown, portDownNote
	} else {
		depth = dp.out.Depth()
		reason, why = c.admit(dp, depth, f.Footprint())
		if dp.maxOut > 0 && f.Len() > dp.maxOut {
			reason, why = DropOversize, oversizeNote
		}
	}
	dropped := reason != DropNone
	if dropped {
		dp.stats.Drop(reason)
		notes = c.withNote(notes, why)
		if link != nil {
			link.drops++
		}
		if reason == DropBacklogFull {
			c.congest(dp, from, at, depth.Taken, true) // a live reader forwards nothing more of its sender's
		}
	} else {
		f.Retain() // keep the bytes valid for observers after the queue owns f
		dp.out.Enqueue(f)
		dp.stats.TxFrames.Add(1)
		dp.stats.TxBytes.Add(uint64(f.Len()))
		if link != nil {
			link.frames++
			link.bytes += uint64(f.Len())
		}
		if dp.overflow == OverflowPause {
			if h := c.holds(dp, QueueDepth{Frames: depth.Frames + 1, Bytes: depth.Bytes + f.Footprint()}); h != holdNone {
				c.congest(dp, from, at, depth.Taken, h == holdAll)
			}
		}
	}
	if len(c.observers) > 0 {
		c.ev = Event{Time: at, Port: dst, PortName: dp.name, Dir: Egress, Frame: f.Bytes(), Dropped: dropped, Notes: notes, Injected: from == NoPort}
		for _, o := range c.observers {
			o.Observe(&c.ev)
		}
	}
	f.Release()
	return reason
}

// dropCopy drops a copy before its egress queue (the delay bound was
// reached, or its link was cut while it waited): counted on its egress port
// as reason, shown to observers as a dropped egress with why.
func (c *Core) dropCopy(at time.Time, dst PortID, f *Frame, notes []Note, from PortID, reason DropReason, why Note) {
	if dp := c.tombstone(dst); dp != nil {
		dp.stats.Drop(reason)
		c.ports[from].link(dst).drops++
		if len(c.observers) > 0 {
			notes = c.withNote(notes, why)
			c.ev = Event{Time: at, Port: dst, PortName: dp.name, Dir: Egress, Frame: f.Bytes(), Dropped: true, Notes: notes}
			for _, o := range c.observers {
				o.Observe(&c.ev)
			}
		}
	}
	f.Release()
}

// Inject delivers f straight to port dst's egress queue, bypassing
// forwarding and policy: a recorded frame replayed towards one peer. It takes
// over the caller's reference; notes (optional) are shown with the frame.
// A frame shorter than an Ethernet header is a runt, dropped as one
// arriving from a VM is, but counted on dst. Like a frame on the port's
// wire, it is lost while the port's link is down (the policy's Gate, asked
// about the link from dst to itself); partitions cut pairs of ports, and
// an injected frame has no sender, so they do not apply. Either drop is
// shown to observers as a dropped injected egress. It returns why the
// frame was dropped, DropNone if it was queued.
func (c *Core) Inject(dst PortID, f *Frame, notes []Note) DropReason {
	now := c.clock.Now()
	if dp := c.port(dst); dp != nil {
		if f.Len() < EthHeaderLen {
			return c.dropInjected(now, dp, f, notes, DropRunt, runtNote)
		}
		if c.gate != nil {
			link := Link{From: dst, To: dst, FromName: dp.name, ToName: dp.name}
			at := c.policyTime(now)
			if n, cut := c.gate.Cut(at, at, link); cut {
				return c.dropInjected(now, dp, f, notes, DropPolicy, n)
			}
		}
	}
	return c.deliver(now, dst, f, notes, NoPort)
}

// dropInjected drops an injected frame before dp's egress queue: counted on
// dp as reason, shown to observers as a dropped injected egress with why.
func (c *Core) dropInjected(at time.Time, dp *corePort, f *Frame, notes []Note, reason DropReason, why Note) DropReason {
	dp.stats.Drop(reason)
	if len(c.observers) > 0 {
		c.ev = Event{Time: at, Port: dp.id, PortName: dp.name, Dir: Egress, Frame: f.Bytes(), Dropped: true,
			Notes: c.withNote(notes, why), Injected: true}
		for _, o := range c.observers {
			o.Observe(&c.ev)
		}
	}
	f.Release()
	return reason
}

// withNote returns notes and n, for observers (nil when there are none),
// in scratch space valid until the next withNote: the notes given may be a
// delivery's own, which must not change.
func (c *Core) withNote(notes []Note, n Note) []Note {
	if len(c.observers) == 0 {
		return nil
	}
	c.dropNotes = append(append(c.dropNotes[:0], notes...), n)
	return c.dropNotes
}

// keepNotes copies a copy's notes out of the policy's Decision into the
// pending deliveries' scratch: the policy may reuse them at its next Decide
// (another destination of the same frame).
func (c *Core) keepNotes(notes []Note) []Note {
	if len(notes) == 0 {
		return nil
	}
	start := len(c.pendNotes)
	c.pendNotes = append(c.pendNotes, notes...)
	return c.pendNotes[start:len(c.pendNotes):len(c.pendNotes)]
}

// holdNotes copies a delayed copy's notes into a slice the timer owns until
// it fires (then recycleNotes takes it back).
func (c *Core) holdNotes(notes []Note) []Note {
	if len(notes) == 0 {
		return nil
	}
	var held []Note
	if n := len(c.freeNotes); n > 0 {
		held = c.freeNotes[n-1][:0]
		c.freeNotes[n-1] = nil
		c.freeNotes = c.freeNotes[:n-1]
	}
	return append(held, notes...)
}

// recycleNotes takes back a fired timer's notes, once observers are done
// with them.
func (c *Core) recycleNotes(notes []Note) {
	if cap(notes) > 0 && len(c.freeNotes) < 1024 {
		clear(notes)
		c.freeNotes = append(c.freeNotes, notes[:0])
	}
}

// portDownNote explains a frame for a port that has no peer attached.
var portDownNote = Note{Action: "port-down", Detail: "no VM attached to the port"}

// runtNote says why an injected runt was dropped.
var runtNote = Note{Action: "runt", Detail: "shorter than an Ethernet header (14 bytes)"}

// oversizeNote explains a frame larger than its port's peer takes.
var oversizeNote = Note{Action: "oversize", Detail: "larger than the port's peer takes (a VXLAN port: its MTU less 50 bytes)"}

// delayFullNote explains a drop at the delay bound.
var delayFullNote = Note{Action: "delay-full", Detail: "too many frames waiting for their delay (CoreConfig.MaxDelayedFrames/MaxDelayedBytes)"}
