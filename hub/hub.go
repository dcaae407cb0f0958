package hub

// This file holds the live Hub itself: its configuration, New, Run (which
// fires the core's timers and stops the hub), Do (every other goroutine's
// way to the core, under the hub's lock), and the logging that waits until
// the lock is let go (logLater, deferredLog). Ports and their peers are in
// attach.go, each peer's reader and writer in readwrite.go, what the
// control API reads and injects in control.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultMaxFrame is QEMU's own receive buffer limit (4096 + 65536 bytes),
// the largest frame any of its network back ends can hand over.
const DefaultMaxFrame = 4096 + 65536

// MaxFrameLimit bounds a configured maximum frame size: transports size
// their buffers from the maximum, so it must not be arbitrary.
const MaxFrameLimit = 1 << 20

// Config configures a live Hub.
type Config struct {
	Mode      Mode
	QueueLen  int // per-port egress queue, frames: the high-water mark (default DefaultQueueLen; see there for its byte mark)
	MaxFrame  int // largest frame accepted from a peer (default DefaultMaxFrame)
	AgingTime time.Duration
	// Overflow is what a port does when its queue reaches QueueLen (default
	// OverflowPause: hold the frame and pause its sender); Stall is how long
	// a pausing port's peer may read nothing before the port drops instead
	// (default DefaultStall). Ports may override Overflow and QueueLen.
	Overflow Overflow
	Stall    time.Duration
	Clock    Clock // required: wallclock.Clock{} for live use; its AfterFunc fires the core's timers
	// Start is when policy time begins (default: the clock's reading in
	// New). A capture records it so that replay lines its windows up.
	Start     time.Time
	Policy    Policy
	Observers []Observer
	Logger    *slog.Logger
}

// Hub connects a Core to transports. Each attached PortIO gets a reader
// goroutine and a writer goroutine. The reader runs the core itself: it
// reads a batch of frames, takes the hub's lock and forwards them to
// completion, so a frame crosses one hand-off (the destination's egress
// queue) on its way through. The writer drains that queue into the
// transport, many frames per system call when they have piled up. Run
// fires the core's timers (delayed frames, stall checks) and stops the hub.
//
// Flow control: a reader whose frames wait above a destination's high-water
// mark stops reading until the destination drains (Core.Paused), so a
// stream sender's socket window closes, as over a direct socket pair; only
// those senders wait, and only while their receivers read (see DefaultStall).
type Hub struct {
	cfg Config
	log *slog.Logger

	// mu owns the core: every forwarding step, timer and control
	// operation runs under it, in one order. The core's port table is the
	// only one: a port's attachment is its egress queue there (attOf).
	mu     sync.Mutex
	core   *Core
	armed  time.Time // the deadline Run's timer is set for (zero: none)
	closed bool      // Run has shut the hub down

	// rooms are the channels injections wait on for a congested port
	// (WaitRoom), closed when it stops holding its senders back; under mu.
	rooms map[PortID]chan struct{}
	// held counts, per port, the injections waiting on rooms; under mu.
	held map[PortID]int
	// later holds, under mu, what the hub logs once it lets go of mu
	// (logLater); logMu lets one goroutine at a time log them, in order.
	// Lock order: logMu, then mu.
	later []logLine
	logMu sync.Mutex

	rearm   chan struct{} // a deadline earlier than armed was scheduled
	stopped chan struct{} // closed when Run returns
	started chan struct{} // closed when Run starts
	wg      sync.WaitGroup
}

// New returns a hub that forwards nothing until Run is called.
func New(cfg Config) (*Hub, error) {
	if cfg.Clock == nil {
		return nil, errors.New("hub: Config.Clock is required")
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.MaxFrame < EthHeaderLen {
		return nil, fmt.Errorf("hub: maximum frame size %d is below the Ethernet header size", cfg.MaxFrame)
	}
	if cfg.Overflow > OverflowDrop {
		return nil, fmt.Errorf("hub: unknown overflow %d", cfg.Overflow)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger,
		rearm:   make(chan struct{}, 1),
		stopped: make(chan struct{}),
		started: make(chan struct{}),
	}
	h.core = NewCore(CoreConfig{
		Mode:      cfg.Mode,
		Clock:     cfg.Clock,
		Policy:    cfg.Policy,
		Observers: cfg.Observers,
		AgingTime: cfg.AgingTime,
		QueueLen:  cfg.QueueLen,
		Overflow:  cfg.Overflow,
		Stall:     cfg.Stall,
		OnResume:  h.resume,
		OnRoom:    h.room,
		Logger:    slog.New(deferredLog{h, cfg.Logger.Handler()}),
	})
	if !cfg.Start.IsZero() {
		h.core.SetStart(cfg.Start)
	}
	return h, nil
}

// MaxFrame returns the largest frame the hub accepts.
func (h *Hub) MaxFrame() int { return h.cfg.MaxFrame }

// Run fires the core's timers until ctx is done, then detaches every peer,
// waits for their goroutines and returns nil. (The error result is for
// future failure modes; today it has none.)
func (h *Hub) Run(ctx context.Context) error {
	close(h.started)
	defer close(h.stopped)
	// The timer is the clock's: under a VirtualClock it fires when the
	// clock's driver says, and the live hub runs in virtual time too.
	wake := make(chan struct{}, 1)
	timer := h.cfg.Clock.AfterFunc(time.Hour, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	timer.Stop()
	for {
		waiting := h.lock()
		h.core.RunDue()
		dl, ok := h.core.NextDeadline()
		if !ok {
			dl = time.Time{}
		}
		h.armed = dl
		if h.release(waiting) {
			// Run does not wait for the log (a stall it found): a writer
			// that blocks would hold every port's timers, among them the
			// stall checks that free the senders a stuck port holds back.
			go h.flushLog()
		}
		if ok {
			timer.Reset(dl.Sub(h.cfg.Clock.Now()))
		}
		select {
		case <-wake:
		case <-h.rearm:
			timer.Stop()
		case <-ctx.Done():
			timer.Stop()
			h.shutdown()
			return nil
		}
	}
}

// armLocked wakes Run when the core's earliest deadline is earlier than the
// one its timer is set for. Called with mu held, after anything that may
// schedule a timer.
func (h *Hub) armLocked() {
	dl, ok := h.core.NextDeadline()
	if !ok || (!h.armed.IsZero() && !dl.Before(h.armed)) {
		return
	}
	h.armed = dl
	select {
	case h.rearm <- struct{}{}:
	default:
	}
}

func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	for _, info := range h.core.Ports() {
		if a := h.attOf(info.ID); a != nil {
			h.endAttachment(a, errors.New("hub shutting down"))
		}
	}
	h.mu.Unlock()
	h.flushLog()
	h.wg.Wait()
	waiting := h.lock()
	h.core.Close()
	h.unlock(waiting)
}

// Do runs fn with the core, ordered with every frame and timer, and returns
// once it has run. It is how other goroutines (the control API, the
// command) read or change hub state; fn must not call back into the Hub.
// The timers due by now run first, as before a frame (Core.Ingress), so
// that fn never finds a delayed copy overdue: a change it makes (a
// set-policy, a link taken down) comes after every delivery due by then,
// in the capture too, which is where a replay makes it. What fn and the
// core left to log is logged once the lock is let go, before Do returns.
// Before Run starts, Do waits for it; after Run has returned it returns
// ErrStopped.
func (h *Hub) Do(ctx context.Context, fn func(c *Core)) error {
	select {
	case <-h.started:
	case <-h.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	defer h.unlock(h.lock())
	if h.closed {
		return ErrStopped
	}
	h.core.RunDue()
	fn(h.core)
	h.armLocked()
	return nil
}

// do runs fn under the hub's lock without a context; Do then logs what fn
// left to log (logLater).
func (h *Hub) do(fn func()) error {
	return h.Do(context.Background(), func(*Core) { fn() })
}

// logLine is one record the hub logs after letting go of mu: the hub's own
// (logLater: msg and args, logged at flush time) or one the core wrote
// (rec, kept by deferredLog for its handler).
type logLine struct {
	level   slog.Level
	msg     string
	args    []any
	rec     slog.Record
	handler slog.Handler // non-nil: rec, for this handler
}

// logLater keeps a record to log once mu is released (flushLog); mu is
// held. The live hub never calls its logger under mu, nor lets its core do
// so (deferredLog): a log whose writer blocks (a stderr nobody reads) would
// then hold every port's frames, and the hub's shutdown.
func (h *Hub) logLater(level slog.Level, msg string, args ...any) {
	h.later = append(h.later, logLine{level: level, msg: msg, args: args})
}

// lock takes mu and returns how many records wait to be logged already,
// for unlock.
func (h *Hub) lock() (waiting int) {
	h.mu.Lock()
	return len(h.later)
}

// unlock lets go of mu, then logs what the caller kept to log meanwhile
// (by logLater, or the core's logs through deferredLog), if it did: not
// the records others kept, so that a log writer that blocks holds the
// goroutines that logged, and no other (Run, which fires every port's
// timers, does not wait for its own: it hands them to a goroutine). Where
// nothing was kept, as on almost every frame, it costs no more than the
// unlock.
func (h *Hub) unlock(waiting int) {
	if h.release(waiting) {
		h.flushLog()
	}
}

// release lets go of mu and reports whether the caller kept records to
// log meanwhile (waiting is what lock returned).
func (h *Hub) release(waiting int) (kept bool) {
	kept = len(h.later) > waiting
	h.mu.Unlock()
	return kept
}

// flushLog logs the records logLater kept, in the order they were kept;
// mu is not held. Once it returns, the caller's own records are logged.
// A logger that blocks holds the goroutine that logs (an Attach, a
// detaching peer's reader, the reader whose frame moved a MAC), never the
// hub's lock; but, through logMu, it holds every later attach and detach
// with it, and the hub's shutdown.
func (h *Hub) flushLog() {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	h.mu.Lock()
	lines := h.later
	h.later = nil
	h.mu.Unlock()
	for _, l := range lines {
		if l.handler != nil {
			_ = l.handler.Handle(context.Background(), l.rec) // a log's failure is no hub's
			continue
		}
		h.log.Log(context.Background(), l.level, l.msg, l.args...)
	}
}

// deferredLog is the core's log handler in a live hub: the core logs under
// mu (a MAC that moved, a port that stalled or reads again), so each record
// is kept, with the handler it was for, and handled once mu is let go
// (unlock). Records keep their own time. Enabled asks the hub's handler, so
// a level that is off costs the core what it did before.
type deferredLog struct {
	h    *Hub
	next slog.Handler
}

func (d deferredLog) Enabled(ctx context.Context, l slog.Level) bool {
	return d.next.Enabled(ctx, l)
}

// Handle runs with mu held: the core only logs from under it.
func (d deferredLog) Handle(_ context.Context, r slog.Record) error {
	d.h.later = append(d.h.later, logLine{rec: r.Clone(), handler: d.next})
	return nil
}

func (d deferredLog) WithAttrs(as []slog.Attr) slog.Handler {
	return deferredLog{d.h, d.next.WithAttrs(as)}
}

func (d deferredLog) WithGroup(name string) slog.Handler {
	return deferredLog{d.h, d.next.WithGroup(name)}
}
