package hub

// This file holds what the core keeps for copies that wait out a delay
// in the timer heap: their bounds (CoreConfig.MaxDelayedFrames and
// MaxDelayedBytes), the senders held back while they wait (holdDelayed),
// the hub-wide delay mark (see Core.delayHigh), whether a link was cut
// while one waited (cut, asked when it is due, or by SetPolicy for the
// policy it replaces), and what Close does with those still waiting.
// runDue (timers.go) delivers them when due.

import "time"

// Bounds on what waits in the timer heap (delayed, rate-queued and
// reordered copies), so that a long delay on a fast link cannot take the
// host's memory: beyond either, a copy is dropped and counted as
// DropDelayFull on its egress port. Senders are paused well before, at
// half of either (see OverflowPause), so that a delay loses nothing while
// every receiver reads. The byte bound counts the memory the
// frames hold (Frame.Footprint), at least the smallest pooled buffer, 2048
// bytes, however short the frame: 64 MiB is 32 768 small frames, fewer
// larger ones. The frame bound is that count, so for the hub's pooled
// frames the two bind together; it binds first only for frames in smaller
// buffers of the caller's own (FrameOf).
const (
	DefaultMaxDelayedFrames = 1 << 15  // 32 768 frames
	DefaultMaxDelayedBytes  = 64 << 20 // 64 MiB of frame buffers
)

// Delayed returns how many frames wait in the timer heap, and the bytes
// their buffers hold (Frame.Footprint).
func (c *Core) Delayed() (frames, bytes int) { return c.delayedFrames, c.delayedBytes }

// holdDelayed pauses from, which just sent dp a frame that now waits out a
// delay, if what waits for dp passed a
// mark: its queue the high-water mark (from's frames will join a queue its
// peer is slow to drain), or the queue and the delayed frames the second
// mark (a delay on a fast link holds at most that much for one port, and
// a slow peer behind it loses nothing), or the frames delayed for all
// ports the hub-wide high mark (see Core.delayHigh).
func (c *Core) holdDelayed(dp *corePort, from PortID, now time.Time) {
	if !dp.pauses() {
		return
	}
	d := dp.out.Depth()
	if h := c.holds(dp, d); h != holdNone {
		c.congest(dp, from, now, d.Taken, h == holdAll)
	}
	if c.delayHigh || d.Frames+dp.delayed >= dp.second || d.Bytes+dp.delayedBytes >= c.bsecond {
		c.holdForDelay(dp, from, now)
	}
}

// pauses reports whether dp holds back the senders of the frames delayed
// for it: it pauses, has a peer, and its peer has not stalled.
func (dp *corePort) pauses() bool {
	return dp.overflow == OverflowPause && dp.out != nil && !dp.stalled
}

// markHigh is the hub-wide high mark, in frames and in bytes, for the
// frames delayed for pausing ports: half of the bound, less half of what
// the other delayed frames hold (at most half of the bound themselves),
// so that a quarter of the bound at least is left above it.
func (c *Core) markHigh() (frames, bytes int) {
	other, otherBytes := c.delayedFrames-c.markFrames, c.delayedBytes-c.markBytes
	return c.dhigh - min(other, c.dhigh)/2, c.dhighBytes - min(otherBytes, c.dhighBytes)/2
}

// lowerDelayMark clears the hub-wide high mark once the frames delayed for
// pausing ports are down to half of it (what pausing alone brings about),
// resumes the senders held at the delay bound, and lets go the senders it
// held on ports that have drained otherwise (Drained checks each).
func (c *Core) lowerDelayMark() {
	if !c.delayHigh {
		return
	}
	if hi, hiBytes := c.markHigh(); c.markFrames > hi/2 || c.markBytes > hiBytes/2 {
		return
	}
	c.delayHigh = false
	c.markWaiters = c.resume(c.markWaiters)
	for _, p := range c.ports {
		if p.delayHeld && !p.removed {
			c.Drained(p.id)
		}
	}
}

// cut reports whether the link from->dst was cut for a delayed copy sent
// at sent and due at at: by a policy SetPolicy replaced while it waited
// (cutBefore, asked then), or by the policy in force, asked about the part
// of the wait since it came into force.
func (c *Core) cut(seq uint64, sent, at time.Time, from, dst PortID) (Note, bool) {
	if len(c.cutBefore) > 0 {
		if n, ok := c.cutBefore[seq]; ok {
			delete(c.cutBefore, seq)
			return n, true
		}
	}
	if c.gate == nil {
		return Note{}, false
	}
	return c.ask(c.gate, later(sent, c.gateSince), at, from, dst)
}

// ask asks g whether the link from->dst was cut at any time from from to
// to.
func (c *Core) ask(g Gate, from, to time.Time, src, dst PortID) (Note, bool) {
	fp, dp := c.port(src), c.port(dst)
	if fp == nil || dp == nil {
		return Note{}, false
	}
	return g.Cut(c.policyTime(from), c.policyTime(to), Link{From: src, To: dst, FromName: fp.name, ToName: dp.name})
}

// policyTime is t as policies see it: time since the start.
func (c *Core) policyTime(t time.Time) time.Duration { return t.Sub(c.epoch) - c.startOff }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Close releases every frame still waiting in the timer heap: a delayed
// copy the hub stops before it is due is lost as its port goes down with
// the hub, counted on its egress port (and its link) as DropDown and shown
// to the observers still attached as a dropped egress with stoppedNote,
// at the clock's time, in the order the copies were due. So each copy a
// stopped Core made is counted once on its egress port, in tx or as a
// drop, and its capture records every frame's end. A live Hub's writers
// also count as port-down the copies still queued when it stops, after tx
// counted them (the README's counters).
func (c *Core) Close() {
	now := c.clock.Now()
	for len(c.timers) > 0 {
		if t := c.timers.pop(); t.frame != nil {
			c.delayedFrames--
			c.delayedBytes -= t.frame.Footprint()
			c.ports[t.port].delayed--
			c.ports[t.port].delayedBytes -= t.frame.Footprint()
			if t.mark {
				c.markFrames--
				c.markBytes -= t.frame.Footprint()
			}
			c.dropCopy(now, t.port, t.frame, t.notes, t.from, DropDown, stoppedNote)
		}
	}
	c.delayHigh = false
	c.markWaiters = c.resume(c.markWaiters)
	clear(c.cutBefore)
}

// stoppedNote explains a delayed copy the hub stopped before it was due.
var stoppedNote = Note{Action: "port-down", Detail: "hub shutting down: the copy was still waiting out its delay"}
