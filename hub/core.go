package hub

// This file holds the Core itself: its configuration (CoreConfig), its
// state (the Core struct, with the reason behind each bound), NewCore and
// the methods that set its start time and policy. The rest of the core is
// in porttable.go (its ports), forward.go (Ingress and delivery), learn.go
// (ModeSwitch's table), flow.go (flow control), timers.go and delay.go
// (what waits in the timer heap).

import (
	"log/slog"
	"time"
)

// CoreConfig configures a Core.
type CoreConfig struct {
	Mode      Mode
	Clock     Clock      // required
	Policy    Policy     // nil forwards everything unchanged
	Observers []Observer // capture points, checkers
	AgingTime time.Duration
	MaxMACs   int
	// MaxDelayedFrames and MaxDelayedBytes bound the frames waiting for a
	// delay to pass; 0 means DefaultMaxDelayedFrames / DefaultMaxDelayedBytes.
	MaxDelayedFrames int
	MaxDelayedBytes  int
	// Flow control; see Overflow. Zero values take the defaults
	// (DefaultQueueLen, OverflowPause, DefaultStall, DefaultBacklog,
	// DefaultBacklogBytes). Ports may override Overflow and QueueLen.
	// Backlog is the slack above each port's high-water mark, in frames;
	// BacklogBytes bounds a port's queue in bytes and sets its byte marks.
	QueueLen     int
	Overflow     Overflow
	Stall        time.Duration
	Backlog      int
	BacklogBytes int
	// OnResume is called, on the core's goroutine, when a port the core
	// paused (Paused) may read from its peer again. It must not block.
	OnResume func(id PortID)
	// OnRoom is called, on the core's goroutine, when port id stops
	// holding its senders back (Congested turns false: its peer drained
	// it, it stalled, or its peer changed), so that a sender that is no
	// port (an injection) waiting for room may go on. It must not block.
	OnRoom func(id PortID)
	Logger *slog.Logger
}

// Core is the serial forwarding engine: ports, the learning table, the policy
// and the timer heap. It is not safe for concurrent use; see the package doc.
type Core struct {
	mode      Mode
	clock     Clock
	epoch     time.Time     // the clock at NewCore: the learning table's time base
	start     time.Time     // when policy time begins
	startOff  time.Duration // start - epoch
	policy    Policy
	gate      Gate      // policy, when it can cut a link while a copy waits
	gateSince time.Time // when policy came into force
	// cutBefore holds, by timer seq, the waiting copies a policy SetPolicy
	// replaced had cut while it was in force, with its note: each is
	// dropped when due. At most one entry per waiting copy.
	cutBefore map[uint64]Note
	observers []Observer
	aging     time.Duration
	maxMACs   int
	log       *slog.Logger

	ports  []*corePort // indexed by PortID; removed ports stay as tombstones
	byName map[string]PortID
	order  []PortID // live ports by name: the flood order

	macs      map[macKey]*macEntry
	nextSweep time.Duration // since epoch
	macMoves  uint64
	// movesWarned holds the MAC and port pairs a move was logged for at
	// WARN since movesSince (since epoch), at most maxMoveWarnings of them;
	// later moves log at DEBUG. It is emptied each moveWarnPeriod.
	movesWarned map[moveKey]struct{}
	movesSince  time.Duration

	timers timerHeap
	seq    uint64

	maxDelayedFrames, maxDelayedBytes int
	delayedFrames, delayedBytes       int // frames in timers
	// The hub-wide delay mark. Each port's second mark bounds what a
	// delay holds for that port, but the ports together would reach the
	// bound first once eight ports wait for small frames, or two for large
	// ones. The mark counts only what pausing can reduce: the frames
	// delayed for pausing ports (markFrames, markBytes; timer.mark).
	// Copies for ports that do not pause (overflow: drop, stalled, no
	// peer) are admitted only while all delayed frames are below half of
	// either bound (dhigh, dhighBytes), and dropped as DropDelayFull above
	// it (such ports accept loss; a stalled or absent peer loses them
	// anyway), so they never hold much more than half the bound. Once the
	// marked frames reach the high mark
	// (markHigh: half of the bound, less half of what the others hold),
	// delayHigh is set and every sender whose copy then waits out a
	// delay for a pausing port is held back on that port (holdDelayed),
	// until the marked frames are down to half the high mark
	// (lowerDelayMark) or the port has no delayed frame left
	// (delayDrained), so that a hold never outlives the frames it waits
	// for. What lies above the high mark (a quarter of the bound at
	// least) is room for what held senders still send: a live hub's
	// reader stops at the frame that holds its sender, a copy of it per
	// destination and per duplicate, so it holds 16 384 single copies
	// (8192 beside non-pausing delays), 128 ports' broadcasts in hub
	// mode: more senders held at once lose the excess (see README). A copy
	// for a pausing port that finds the bound reached all the same is
	// dropped (DropDelayFull) and holds its sender on markWaiters, until
	// the mark is lowered.
	dhigh, dhighBytes     int
	markFrames, markBytes int
	delayHigh             bool
	markWaiters           []PortID

	flow    PortOptions // the defaults ports start from
	backlog int         // slack above a port's high-water mark, frames
	// A pausing port's byte marks (see OverflowPause): its bound, its
	// high- and low-water marks and its second mark and what that drains to.
	bbytes, bhigh, blow, bsecond, bsecondLow int
	onResume                                 func(PortID)
	onRoom                                   func(PortID)

	// Scratch reused across frames so that forwarding does not allocate.
	dsts      []PortID
	dec       Decision
	notes     []Note
	pending   []delivery
	pendNotes []Note   // the notes of pending deliveries
	freeNotes [][]Note // note slices of fired timers, for reuse
	dropNotes []Note   // a dropped delivery's notes and why, for observers
	ev        Event
}

// NewCore returns a core with no ports. Its start time, from which policies
// measure time, is the clock's reading now.
func NewCore(cfg CoreConfig) *Core {
	if cfg.Clock == nil {
		panic("hub: CoreConfig.Clock is required")
	}
	if cfg.AgingTime <= 0 {
		cfg.AgingTime = DefaultAgingTime
	}
	if cfg.MaxMACs <= 0 {
		cfg.MaxMACs = DefaultMaxMACs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxDelayedFrames <= 0 {
		cfg.MaxDelayedFrames = DefaultMaxDelayedFrames
	}
	if cfg.MaxDelayedBytes <= 0 {
		cfg.MaxDelayedBytes = DefaultMaxDelayedBytes
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.Overflow == OverflowDefault {
		cfg.Overflow = OverflowPause
	}
	if cfg.Stall <= 0 {
		cfg.Stall = DefaultStall
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = DefaultBacklog
	}
	if cfg.BacklogBytes <= 0 {
		cfg.BacklogBytes = DefaultBacklogBytes
	}
	c := &Core{
		flow:             PortOptions{Overflow: cfg.Overflow, QueueLen: cfg.QueueLen, Stall: cfg.Stall},
		backlog:          cfg.Backlog,
		bbytes:           cfg.BacklogBytes,
		bhigh:            cfg.BacklogBytes / 4,
		blow:             cfg.BacklogBytes / 8,
		bsecond:          cfg.BacklogBytes / 2,
		bsecondLow:       cfg.BacklogBytes / 4,
		onResume:         cfg.OnResume,
		onRoom:           cfg.OnRoom,
		maxDelayedFrames: cfg.MaxDelayedFrames,
		maxDelayedBytes:  cfg.MaxDelayedBytes,
		dhigh:            cfg.MaxDelayedFrames / 2,
		dhighBytes:       cfg.MaxDelayedBytes / 2,
		mode:             cfg.Mode,
		clock:            cfg.Clock,
		policy:           cfg.Policy,
		observers:        cfg.Observers,
		aging:            cfg.AgingTime,
		maxMACs:          cfg.MaxMACs,
		log:              cfg.Logger,
		byName:           make(map[string]PortID),
		macs:             make(map[macKey]*macEntry),
	}
	c.gate, _ = cfg.Policy.(Gate)
	c.epoch = c.clock.Now()
	c.gateSince = c.epoch
	c.start = c.epoch
	c.nextSweep = c.aging
	return c
}

// Start returns the time the core started; policies see time relative to it.
func (c *Core) Start() time.Time { return c.start }

// Elapsed returns the clock's time since the start: the "now" policies see.
func (c *Core) Elapsed() time.Duration { return c.clock.Now().Sub(c.start) }

// SetStart moves the core's start time. Replay uses it to line policy time
// windows up with the live run a capture came from.
func (c *Core) SetStart(t time.Time) {
	c.start = t
	c.startOff = t.Sub(c.epoch)
}

// Mode returns the forwarding mode.
func (c *Core) Mode() Mode { return c.mode }

// SetPolicy replaces the policy; frames from now on see the new one. Timers
// due by now run first, as at Ingress, so the switch is now. Frames already
// waiting in the timer heap keep the decision they were given, and each
// policy in force while one waits answers for its own part of the wait
// (Gate): the one replaced is asked at once, from the copy's send (or its
// own start) to now, which it answers for good since it sees no more
// changes, and a copy it cuts is dropped when due with its note, counted
// against its partition or schedule now; the new one is asked when the
// copy is due, from now on. So the new policy cuts no copy for what its
// partitions and schedules say of the time before it was in force, and no
// replaced policy is kept. It costs one Gate.Cut per waiting copy.
func (c *Core) SetPolicy(p Policy) { c.SetPolicyAt(p, c.clock.Now()) }

// SetPolicyAt is SetPolicy with the clock read by the caller, at now (not
// before the last time the clock was read, nor after the clock): a caller
// that records the switch's time (serve, in the capture) switches at that
// very instant, so that replay, which switches there, decides as the run
// did.
func (c *Core) SetPolicyAt(p Policy, now time.Time) {
	if len(c.timers) > 0 {
		c.runDue(now)
	}
	at := later(now, c.gateSince)
	if c.gate != nil {
		for i := range c.timers {
			t := &c.timers[i]
			if t.frame == nil {
				continue
			}
			if _, done := c.cutBefore[t.seq]; done {
				continue // an earlier policy cut it: the first cut wins
			}
			if n, cut := c.ask(c.gate, later(t.sent, c.gateSince), at, t.from, t.port); cut {
				if c.cutBefore == nil {
					c.cutBefore = make(map[uint64]Note)
				}
				c.cutBefore[t.seq] = n
			}
		}
	}
	c.policy = p
	c.gate, _ = p.(Gate)
	c.gateSince = at
}

// Policy returns the current policy (nil when there is none).
func (c *Core) Policy() Policy { return c.policy }
