package hub

import (
	"fmt"
	"slices"
	"time"
)

// Flow control defaults.
const (
	// DefaultQueueLen is a port's egress queue, in frames: its high-water
	// mark. A pausing port holds its senders back above it and lets them go
	// once its peer has drained the queue to half of it (the low-water mark).
	// The byte high-water mark (a quarter of DefaultBacklogBytes, 16 MiB)
	// binds first for frames in larger buffers, and for a queue set above
	// 8192 frames, as many of the smallest buffers as 16 MiB holds.
	DefaultQueueLen = 256
	// DefaultStall is how long a port's peer may take no frame at all while
	// its queue holds senders back before the port stops holding them and
	// drops its own frames instead (DropStalled), until its peer drains.
	DefaultStall = 2 * time.Second
	// DefaultBacklog is a pausing port's slack above its high-water mark, in
	// frames: room for what arrives after its senders were told to stop
	// (a frame from each: a live reader stops at the frame that pauses its
	// sender; injected frames, delayed ones coming due) and for the bursts
	// of senders that cannot be pushed back (PortOptions.NoPushback). Its
	// queue is bounded at the high-water mark plus the slack; half-way
	// through the slack is its second mark (see OverflowPause).
	DefaultBacklog = 8192
	// DefaultBacklogBytes bounds a pausing port's queue in bytes: the
	// memory its frames hold (Frame.Footprint, their buffers' size, at
	// least 2048 bytes however short the frame). A quarter of it is the
	// queue's byte high-water mark, an eighth its byte low-water mark, and
	// half of it the byte second mark: 8192, 4096 and 16 384 small frames,
	// above the frame marks of a default queue.
	DefaultBacklogBytes = 64 << 20
)

// Overflow says what a port does with a frame that finds its egress queue at
// the high-water mark.
type Overflow uint8

const (
	// OverflowDefault takes the core's (or the port's configuration's) setting.
	OverflowDefault Overflow = iota
	// OverflowPause queues the frame and pauses its sender: the hub stops
	// reading the ports whose frames wait above the high-water mark until
	// the queue drains to its low-water mark. For stream transports this is
	// real backpressure (the sender's socket window closes); no frame is
	// lost while every receiver keeps reading. The default.
	//
	// The marks, in frames and in bytes (CoreConfig.Backlog, BacklogBytes):
	//   - high-water: the queue holds QueueLen frames or a quarter of
	//     BacklogBytes; the senders that can be pushed back pause;
	//   - second mark: the queue reaches QueueLen plus half the backlog,
	//     or half of BacklogBytes; every sender pauses, those that cannot
	//     be pushed back (NoPushback) too. The queue and the frames delayed
	//     for the port together reaching it pause only the senders whose
	//     frames wait out a delay, and not the port's injections: a delay
	//     holds back no one else;
	//   - bound: the queue holds QueueLen plus the backlog, or a frame
	//     would take it past BacklogBytes; the frame is dropped
	//     (DropBacklogFull) and its sender pauses;
	//   - hub-wide delay mark: the frames delayed for all pausing ports
	//     reach half of CoreConfig.MaxDelayedFrames or MaxDelayedBytes
	//     (less half of what delays for other ports hold, see
	//     Core.markFrames); a sender whose frame then waits out a delay for
	//     the port pauses as at its second mark, until they are down to
	//     half of that or none of them is the port's. A frame the delay
	//     bound refuses pauses its sender until the mark is lowered;
	//   - low-water: the senders resume once the queue is down to half of
	//     QueueLen and an eighth of BacklogBytes; those held for their
	//     delayed frames once the queue with them is also down to QueueLen
	//     plus a quarter of the backlog and a quarter of BacklogBytes.
	OverflowPause
	// OverflowDrop tail-drops the frame (DropQueueFull), like a physical
	// switch with a full output buffer.
	OverflowDrop
)

func (o Overflow) String() string {
	switch o {
	case OverflowDefault:
		return "default"
	case OverflowPause:
		return "pause"
	case OverflowDrop:
		return "drop"
	}
	return fmt.Sprintf("overflow(%d)", uint8(o))
}

// ParseOverflow parses "pause" or "drop".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "pause":
		return OverflowPause, nil
	case "drop":
		return OverflowDrop, nil
	}
	return OverflowDefault, fmt.Errorf("unknown overflow %q (want pause or drop)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (o Overflow) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It reads what
// MarshalText writes, "default" included.
func (o *Overflow) UnmarshalText(b []byte) error {
	if string(b) == "default" {
		*o = OverflowDefault
		return nil
	}
	v, err := ParseOverflow(string(b))
	if err == nil {
		*o = v
	}
	return err
}

// PortOptions are one port's own flow settings; zero values take the
// core's.
type PortOptions struct {
	Overflow Overflow
	QueueLen int // high-water mark, frames
	// Stall, when not 0, is the port's own stall time (CoreConfig.Stall):
	// a VM known to be paused for a while (stepped in a debugger, held in
	// QEMU's monitor) gets longer before its frames are dropped.
	Stall time.Duration
	// Horizon names a split-horizon group: the core never forwards a frame
	// from one port of a group to another (the ports of one VXLAN overlay,
	// which reach each other already). Empty: none.
	Horizon string
	// NoPushback says the port's peer cannot be pushed back: a UDP or
	// multicast socket, a VXLAN overlay, an in-process host whose NIC
	// drops when full. Pausing it would only move its loss into its own
	// small buffer (counted as DropKernel), so its frames use a
	// destination's backlog instead, and it is paused only at the
	// destination's second mark (see OverflowPause).
	NoPushback bool
}

func (o PortOptions) validate() error {
	if o.Overflow > OverflowDrop {
		return fmt.Errorf("unknown overflow %d", o.Overflow)
	}
	if o.QueueLen < 0 {
		return fmt.Errorf("queue length %d is negative", o.QueueLen)
	}
	if o.Stall < 0 {
		return fmt.Errorf("stall time %v is negative", o.Stall)
	}
	return nil
}

// with returns defaults overridden by o's non-zero fields.
func (o PortOptions) with(p PortOptions) PortOptions {
	if p.Overflow != OverflowDefault {
		o.Overflow = p.Overflow
	}
	if p.QueueLen > 0 {
		o.QueueLen = p.QueueLen
	}
	if p.Stall > 0 {
		o.Stall = p.Stall
	}
	o.NoPushback = o.NoPushback || p.NoPushback
	return o
}

// flowState is a port's flow control, kept by the core. As a destination, a
// congested port holds back the senders in waiters until its peer drains
// it; as a sender, a port waits while waitOn > 0.
type flowState struct {
	overflow  Overflow
	queueLen  int // high-water mark, frames
	low       int // low-water mark
	second    int // second mark: queue and delayed frames together
	secondLow int // what queue and delayed frames must drain to
	bound     int // the queue's bound
	stall     time.Duration
	// noPushback: as a sender, the port is held back only at a
	// destination's second mark (PortOptions.NoPushback).
	noPushback bool
	// delayed and delayedBytes are the frames in the timer heap due to
	// the port: they wait for it as much as its queue does.
	delayed, delayedBytes int
	// congested: the port's queue passed a mark and holds waiters back
	// until it drains to its low-water marks; injections wait for it too.
	// delayHeld: the queue and the delayed frames together passed the
	// second mark and hold delayWaiters back (only the senders whose
	// frames wait out a delay for the port) until they drain below it.
	congested bool
	delayHeld bool
	stalled   bool
	// lastTaken and lastBacklog are the peer's progress as the last
	// stall check saw it, and progressAt when a check (or the hold's
	// start) first saw it so.
	lastTaken   uint64
	lastBacklog int
	progressAt  time.Time
	// stallCheck is the port's stall check, made once with the port so
	// that a hold costs no allocation; stallArmed says it waits in the
	// timer heap (at most once), for stallNext.
	stallCheck   func()
	stallArmed   bool
	stallNext    time.Time
	waiters      []PortID
	delayWaiters []PortID
	waitOn       int
	pausedAt     time.Time
}

// setFlow sets p's marks from its options and the core's backlog slack.
func (p *corePort) setFlow(o PortOptions, backlog int) {
	p.overflow = o.Overflow
	p.queueLen = o.QueueLen
	p.stall = o.Stall
	p.noPushback = o.NoPushback
	p.low = o.QueueLen / 2
	p.second = o.QueueLen + backlog/2
	p.secondLow = o.QueueLen + backlog/4
	p.bound = o.QueueLen + backlog
	if p.overflow == OverflowDrop {
		p.bound = o.QueueLen
	}
}

// admit decides whether a frame of n bytes fits port dp's queue.
func (c *Core) admit(dp *corePort, d QueueDepth, n int) (DropReason, Note) {
	if dp.stalled && c.queueDrained(dp, d) {
		c.Drained(dp.id) // its peer has read since: no need to wait for the writer to say so
	}
	switch {
	case dp.stalled:
		return DropStalled, stalledNote
	case dp.overflow == OverflowDrop:
		if d.Frames >= dp.queueLen {
			return DropQueueFull, queueFullNote
		}
	case d.Frames >= dp.bound || d.Bytes+n > c.bbytes:
		return DropBacklogFull, backlogFullNote
	}
	return DropNone, Note{}
}

// hold is whom a frame for a port holds back.
type hold uint8

const (
	holdNone     hold = iota
	holdPushback      // the senders that can be pushed back: the high-water mark
	holdAll           // every sender: the second mark
)

// holds says whom a frame for pausing port dp holds back when d is dp's
// queue, the frame included. Delayed frames do not count: they hold back
// only their own senders (holdDelayed).
func (c *Core) holds(dp *corePort, d QueueDepth) hold {
	switch {
	case d.Frames >= dp.second || d.Bytes >= c.bsecond:
		return holdAll
	case d.Frames >= dp.queueLen || d.Bytes >= c.bhigh:
		return holdPushback
	}
	return holdNone
}

// queueDrained reports whether dp's queue d is at its low-water marks.
func (c *Core) queueDrained(dp *corePort, d QueueDepth) bool {
	return d.Frames <= dp.low && d.Bytes <= c.blow
}

// delayDrained reports whether dp, its queue at d, lets the senders its
// delayed frames hold back go: its queue is at its low-water marks and, with
// the frames delayed for it, below its second mark's; and the frames
// delayed for all ports are below the hub-wide marks or none of them is
// dp's (see Core.delayHigh).
func (c *Core) delayDrained(dp *corePort, d QueueDepth) bool {
	return c.queueDrained(dp, d) && d.Frames+dp.delayed <= dp.secondLow && d.Bytes+dp.delayedBytes <= c.bsecondLow &&
		(!c.delayHigh || dp.delayed == 0)
}

// Notes for the drops flow control makes.
var (
	queueFullNote   = Note{Action: "queue-full", Detail: "egress queue full; the port tail-drops (overflow: drop)"}
	stalledNote     = Note{Action: "stalled", Detail: "the peer took no frame for the stall time; dropped until it drains"}
	backlogFullNote = Note{Action: "backlog-full", Detail: "the port's backlog reached its bound"}
)

// congest marks dp congested (its queue reached a mark) and pauses from,
// the sender whose frame took it there, until dp drains: any sender at the
// second mark (all), only one that can be pushed back below it.
func (c *Core) congest(dp *corePort, from PortID, now time.Time, taken uint64, all bool) {
	if !dp.congested {
		if !dp.delayHeld { // else the delay's hold checks for stalls already
			c.armStall(dp, taken)
		}
		dp.congested = true
		dp.out.WatchDrain(dp.low)
	}
	if sp := c.port(from); all || sp != nil && !sp.noPushback {
		c.hold(&dp.waiters, from, now)
	}
	// The peer's writer may have drained the queue before it could see the
	// watch just set: the core stores the watch and then reads the queue,
	// the writer empties the queue and then reads the watch, so one of the
	// two sees the other, and here it is the core.
	if c.queueDrained(dp, dp.out.Depth()) {
		c.Drained(dp.id)
	}
}

// holdForDelay pauses from, whose frame for dp waits out a delay while
// dp's queue and delayed frames are past the second mark, until they drain
// below it. dp is not congested by it: no other sender, and no injection,
// waits for frames that are not theirs. Its peer may stall as a congested
// port's does, and frees from then the same way.
func (c *Core) holdForDelay(dp *corePort, from PortID, now time.Time) {
	if !dp.delayHeld {
		if !dp.congested {
			c.armStall(dp, dp.out.Depth().Taken)
		}
		dp.delayHeld = true
		dp.out.WatchDrain(dp.low) // the writer reports takes; Drained checks the rest
	}
	c.hold(&dp.delayWaiters, from, now)
	if c.delayDrained(dp, dp.out.Depth()) {
		c.Drained(dp.id)
	}
}

// hold adds from to waiters and pauses it, unless it is there already, is
// no port (an injection) or is gone.
func (c *Core) hold(waiters *[]PortID, from PortID, now time.Time) {
	sp := c.port(from)
	if sp == nil || sp.out == nil || slices.Contains(*waiters, from) {
		return
	}
	*waiters = append(*waiters, from)
	sp.waitOn++
	if sp.waitOn == 1 {
		sp.pausedAt = now
		sp.stats.Pauses.Add(1)
	}
}

// stallChecks is how many times per stall time a holding port's peer is
// checked for progress: a port stalls between its stall time and a quarter
// more after its peer last took anything.
const stallChecks = 4

// armStall starts checking, for the hold (congestion or delay) that begins
// now, that dp's peer takes something within every stall time. A port has
// one check, in the heap at most once: a check still there from an earlier
// hold serves this one, so a hold allocates nothing and leaves no timer
// behind.
func (c *Core) armStall(dp *corePort, taken uint64) {
	dp.lastTaken, dp.lastBacklog, dp.progressAt = taken, peerBacklog(dp.out), c.clock.Now()
	if !dp.stallArmed {
		dp.stallArmed = true
		dp.stallNext = dp.progressAt.Add(dp.stallEvery())
		c.at(dp.stallNext, dp.stallCheck)
	}
}

// stallEvery is the time between dp's stall checks.
func (dp *corePort) stallEvery() time.Duration { return max(dp.stall/stallChecks, 1) }

// stallTick runs dp's stall check and schedules the next while dp holds
// senders back. Checks keep to their grid, however late a driver runs
// them.
func (c *Core) stallTick(dp *corePort) {
	dp.stallArmed = false
	if !c.checkStall(dp) {
		return
	}
	every := dp.stallEvery()
	next := dp.stallNext.Add(every)
	if late := c.clock.Now().Sub(next); late > 0 {
		next = next.Add(late / every * every) // a driver that ran late: once, not once per check missed
	}
	dp.stallArmed, dp.stallNext = true, next
	c.at(next, dp.stallCheck)
}

// stallTime is port id's stall time (0 for an unknown port).
func (c *Core) stallTime(id PortID) time.Duration {
	if p := c.port(id); p != nil {
		return p.stall
	}
	return 0
}

// peerBacklog is q's PeerBacklog, or -1 when it has none.
func peerBacklog(q EgressQueue) int {
	if pb, ok := q.(PeerBacklog); ok {
		if n, ok := pb.PeerBacklog(); ok {
			return n
		}
	}
	return -1
}

// checkStall notes dp's peer's progress and stalls dp if it has made none
// for the stall time. It reports whether dp is to be checked again: false
// once dp holds no one back any more, whether its peer drained it, went,
// or has just been declared stalled. A peer
// whose queue is at its low-water marks makes progress enough: only a
// delay holds senders back then.
func (c *Core) checkStall(dp *corePort) bool {
	if dp.removed || dp.out == nil || !dp.congested && !dp.delayHeld {
		return false // drained meanwhile, or the peer went
	}
	d := dp.out.Depth()
	now := c.clock.Now()
	if c.queueDrained(dp, d) {
		c.Drained(dp.id) // drained, whoever missed saying so
		dp.lastTaken, dp.lastBacklog, dp.progressAt = d.Taken, peerBacklog(dp.out), now
		return dp.delayHeld
	}
	if backlog := peerBacklog(dp.out); d.Taken != dp.lastTaken || backlog != dp.lastBacklog {
		dp.lastTaken, dp.lastBacklog, dp.progressAt = d.Taken, backlog, now
	}
	if now.Sub(dp.progressAt) < dp.stall {
		return true // slow, or not quiet for long enough yet
	}
	dp.congested, dp.delayHeld = false, false
	dp.stalled = true
	dp.stats.Stalls.Add(1)
	c.log.Warn("port stalled: its peer took no frame in the stall time; dropping its frames until it reads again",
		"port", dp.name, "stall", dp.stall, "released", len(dp.waiters)+len(dp.delayWaiters))
	c.releaseDelayed(dp) // its delayed frames will be dropped when due: nothing to wait for
	c.release(dp)
	return false
}

// Drained tells the core that port id's peer has taken frames: if the
// port's queue is at or below its low-water marks, the senders it held
// back resume, but those whose frames wait out a delay for it only once
// the queue with its delayed frames is also below its second mark's (see
// OverflowPause); a stalled port whose queue is at its low-water marks
// forwards again. Drivers call it when the queue asked for it
// (EgressQueue.WatchDrain: its frame mark; the core checks the rest), and
// again after each take while the marks are not met; other calls are
// harmless.
func (c *Core) Drained(id PortID) {
	dp := c.port(id)
	if dp == nil || dp.out == nil || (!dp.congested && !dp.stalled && !dp.delayHeld) {
		return
	}
	d := dp.out.Depth()
	if !c.queueDrained(dp, d) {
		return
	}
	if dp.delayHeld && c.delayDrained(dp, d) {
		dp.delayHeld = false
		c.releaseDelayed(dp)
	}
	if !dp.delayHeld {
		dp.out.WatchDrain(-1)
	}
	if !dp.congested && !dp.stalled {
		return // only delayed frames held senders back, and still do
	}
	if dp.stalled {
		dp.stalled = false
		c.log.Info("port reads again; lossless", "port", dp.name)
	}
	dp.congested = false
	c.release(dp)
}

// release lets every sender dp's queue holds back go, resuming those that
// wait for nothing else, and the injections waiting for room.
func (c *Core) release(dp *corePort) {
	dp.waiters = c.resume(dp.waiters)
	if c.onRoom != nil {
		c.onRoom(dp.id)
	}
}

// releaseDelayed lets the senders dp's delayed frames hold back go.
func (c *Core) releaseDelayed(dp *corePort) {
	dp.delayWaiters = c.resume(dp.delayWaiters)
}

// resume ends one wait of each of waiters, resuming those that wait for
// nothing else, and returns waiters emptied.
func (c *Core) resume(waiters []PortID) []PortID {
	now := c.clock.Now()
	for _, id := range waiters {
		sp := c.ports[id]
		if sp.waitOn--; sp.waitOn == 0 {
			sp.stats.PausedNanos.Add(uint64(now.Sub(sp.pausedAt)))
			if c.onResume != nil && !sp.removed {
				c.onResume(id)
			}
		}
	}
	return waiters[:0]
}

// unblock clears p's flow state when its peer goes or comes: the senders it
// holds back resume, and it stops waiting for others.
func (c *Core) unblock(p *corePort) {
	if p.out != nil {
		p.out.WatchDrain(-1)
	}
	p.congested, p.stalled, p.delayHeld = false, false, false
	c.releaseDelayed(p)
	c.release(p)
	if p.waitOn == 0 {
		return
	}
	for _, q := range c.ports {
		if i := slices.Index(q.waiters, p.id); i >= 0 {
			q.waiters = slices.Delete(q.waiters, i, i+1)
		}
		if i := slices.Index(q.delayWaiters, p.id); i >= 0 {
			q.delayWaiters = slices.Delete(q.delayWaiters, i, i+1)
		}
	}
	if i := slices.Index(c.markWaiters, p.id); i >= 0 {
		c.markWaiters = slices.Delete(c.markWaiters, i, i+1)
	}
	p.waitOn = 0
	p.stats.PausedNanos.Add(uint64(c.clock.Now().Sub(p.pausedAt)))
}

// Paused reports whether port id's sender is held back: its frames wait
// above the high-water mark of a port whose peer has not drained them yet.
// A driver stops reading the port's peer while it is, until OnResume.
func (c *Core) Paused(id PortID) bool {
	p := c.port(id)
	return p != nil && p.waitOn > 0
}

// Congested reports whether port id holds its senders back: what waits for
// it passed a mark and its peer has not drained it yet (see
// OverflowPause). A sender that is no port (an injection) waits for room
// while it does (CoreConfig.OnRoom says when it stops).
func (c *Core) Congested(id PortID) bool {
	p := c.port(id)
	return p != nil && p.congested
}

// capacity is the most port id's queue ever holds: its bound.
func (c *Core) capacity(id PortID) int {
	if p := c.port(id); p != nil {
		return p.bound
	}
	return 0
}

// FlowStatus is a port's flow control state, for status displays.
type FlowStatus struct {
	Overflow Overflow `json:"overflow"`
	QueueLen int      `json:"queue_len"`
	// Stall is the port's stall time in force: its own (PortOptions.Stall)
	// or the core's.
	Stall     time.Duration `json:"stall_ns"`
	Paused    bool          `json:"paused,omitempty"`    // its sender is held back
	Congested bool          `json:"congested,omitempty"` // it holds senders back
	// DelayHeld: the frames delayed for it, with its queue, passed its
	// second mark and hold back the senders whose frames they are.
	DelayHeld bool `json:"delay_held,omitempty"`
	// DelayHub: it is DelayHeld while the hub-wide delay mark is set (the
	// frames delayed for all pausing ports passed it), so it may hold
	// senders back for a few delayed frames of its own.
	DelayHub bool `json:"delay_hub,omitempty"`
	Stalled  bool `json:"stalled,omitempty"` // it drops its frames until its peer reads
	// PausedFor is how long the current pause has lasted.
	PausedFor time.Duration `json:"paused_for,omitempty"`
	// Delayed and DelayedBytes are the frames a delay holds for the port
	// (in the timer heap, not yet in its queue) and the memory they hold
	// (Frame.Footprint): they count toward its second mark.
	Delayed      int `json:"delayed,omitempty"`
	DelayedBytes int `json:"delayed_bytes,omitempty"`
}

// Flow returns port id's flow control state.
func (c *Core) Flow(id PortID) FlowStatus {
	p := c.port(id)
	if p == nil {
		return FlowStatus{}
	}
	st := FlowStatus{Overflow: p.overflow, QueueLen: p.queueLen, Stall: p.stall, Paused: p.waitOn > 0, Congested: p.congested, DelayHeld: p.delayHeld,
		DelayHub: p.delayHeld && c.delayHigh, Stalled: p.stalled, Delayed: p.delayed, DelayedBytes: p.delayedBytes}
	if st.Paused {
		st.PausedFor = c.clock.Now().Sub(p.pausedAt)
	}
	return st
}
