package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// maxReadBatch bounds the frames a reader forwards per lock. A stream's
// batch is also bounded in bytes by its read buffer (transport's 32 KiB).
const maxReadBatch = 64

// maxWriteBatch bounds the frames a writer hands its transport at once.
const maxWriteBatch = 64

// A writer's batch is what the core sees of its peer's progress: the
// queue's Taken moves when a write returns. A transport with PeerBacklog
// (a stream socket) shows its peer's progress within a write, so its
// writer always hands it all that is queued, up to maxWriteBatch. Other
// transports (a datagram socket, a TAP device) show none; so that a slow
// peer, one that takes a frame now and then, is not taken for a stalled
// one, their writer sizes each batch so that, at the rate the peer took
// the last one, it lasts about a quickWrites'th of the port's stall time.
// A batch grows only by doubling, and only after a write that held a full
// batch: the writes of a trickle of single frames are no evidence that
// the peer takes more at once. A peer that slows down by more than
// quickWrites times while a batch is under way may still be taken for a
// stalled one: only the transport can see that.
const quickWrites = 8

// nextBatch is a writer's batch limit after a write of n frames, under a
// limit of limit, that took took, when a batch should last at most quick.
// A write too short for the clock to measure sets no bound.
func nextBatch(limit, n int, took, quick time.Duration) int {
	next := limit
	if n >= limit {
		next = 2 * limit
	}
	if took > 0 {
		byRate := int64(max(n, 1)) * int64(quick) / int64(took)
		next = int(min(int64(next), byRate))
	}
	return min(max(next, 1), maxWriteBatch)
}

// writeTime is how long a batch written to io should last (see
// quickWrites): 0, as long as it takes, when io shows its peer's
// progress within a write.
func writeTime(io PortIO, stall time.Duration) time.Duration {
	if pb, ok := io.(PeerBacklog); ok {
		if _, ok := pb.PeerBacklog(); ok {
			return 0
		}
	}
	return max(stall/quickWrites, 1)
}

// attachment is one peer's time on a port: its transport, egress queue and
// goroutines. A reconnecting peer gets a new attachment on the same port.
// It is the port's EgressQueue in the core while it lasts.
type attachment struct {
	id       PortID
	name     string
	stats    *PortStats
	io       PortIO
	q        *egress
	resume   chan struct{} // the core let this port's sender go (OnResume)
	stop     chan struct{} // closed when the attachment is detached
	done     chan struct{} // closed when both goroutines have exited
	since    time.Time
	quick    time.Duration // how long a batch should last (see quickWrites); 0: as long as it takes
	kernel   *kernelCount  // nil unless io is a KernelDropper
	detached bool          // under Hub.mu
}

// kernelCount counts on a port what its peer's side (a KernelDropper)
// dropped since it last looked: the reader looks after each read and as it
// ends, and Ports as it takes a snapshot, so that the drops of a burst's
// tail show while the peer sends nothing more (a paused or idle reader
// reads nothing). It does its own locking: KernelDrops may make a system
// call, which the hub's lock is not held for.
type kernelCount struct {
	mu    sync.Mutex
	kd    KernelDropper
	seen  uint64
	stats *PortStats
	log   *discardLog
}

func newKernelCount(kd KernelDropper, clock Clock, log *slog.Logger, port string, stats *PortStats) *kernelCount {
	return &kernelCount{kd: kd, seen: kd.KernelDrops(), stats: stats,
		log: newDiscardLog(clock, log, port, "frames from the peer discarded")}
}

// count counts what was dropped since the last look (nil: nothing to count).
func (k *kernelCount) count() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := k.kd.KernelDrops(); n != k.seen {
		k.stats.dropN(DropKernel, int(n-k.seen))
		k.log.note(DropKernel, n-k.seen, nil)
		k.seen = n
	}
}

var _ EgressQueue = (*attachment)(nil)

// Enqueue, Depth and WatchDrain implement EgressQueue with the
// attachment's ring, which its writer drains.
func (a *attachment) Enqueue(f *Frame)   { a.q.Enqueue(f) }
func (a *attachment) Depth() QueueDepth  { return a.q.Depth() }
func (a *attachment) WatchDrain(low int) { a.q.WatchDrain(low) }

// PeerBacklog is the transport's, when it has one (see PeerBacklog).
func (a *attachment) PeerBacklog() (int, bool) {
	if pb, ok := a.io.(PeerBacklog); ok {
		return pb.PeerBacklog()
	}
	return 0, false
}

// limited is an attachment whose transport takes frames only up to a size
// (FrameLimiter): the core checks it before the queue.
type limited struct {
	*attachment
	max int
}

func (l limited) MaxFrame() int { return l.max }

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
		h.unlock(waiting)
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
// goroutines that logged, and no other. Where nothing was kept, as on
// almost every frame, it costs no more than the unlock.
func (h *Hub) unlock(waiting int) {
	kept := len(h.later) > waiting
	h.mu.Unlock()
	if kept {
		h.flushLog()
	}
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

// AddPort adds a named port with no peer yet and the hub's flow settings.
// desc says what the port is for ("tcp 127.0.0.1:7001"), for logs and
// capture interface descriptions.
func (h *Hub) AddPort(name, desc string) error { return h.AddPortWith(name, desc, PortOptions{}) }

// AddPortWith is AddPort with the port's own flow options.
func (h *Hub) AddPortWith(name, desc string, o PortOptions) error {
	var err error
	if derr := h.do(func() { _, err = h.core.AddPortWith(name, desc, nil, o) }); derr != nil {
		return derr
	}
	return err
}

// attOf returns port id's attachment, nil while it has no peer; mu is held.
func (h *Hub) attOf(id PortID) *attachment {
	switch q := h.core.Egress(id).(type) {
	case *attachment:
		return q
	case limited:
		return q.attachment
	}
	return nil
}

// RemovePort detaches the port's peer, if any, and removes the port.
func (h *Hub) RemovePort(name string) error {
	var err error
	if derr := h.do(func() {
		id, ok := h.core.Lookup(name)
		if !ok {
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		}
		if a := h.attOf(id); a != nil {
			h.endAttachment(a, errors.New("port removed"))
		}
		err = h.core.RemovePort(id)
	}); derr != nil {
		return derr
	}
	return err
}

// Attach gives the named port a peer. The hub reads frames from io until it
// fails or the hub stops, and writes the port's egress frames to it. done is
// closed once the hub has stopped using io and closed it. A port has at most
// one peer: a second Attach returns ErrPortBusy and leaves io alone.
func (h *Hub) Attach(name string, io PortIO) (done <-chan struct{}, err error) {
	if derr := h.do(func() {
		id, ok := h.core.Lookup(name)
		switch {
		case !ok:
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		case h.attOf(id) != nil:
			h.core.Stats(id).Refused.Add(1)
			err = fmt.Errorf("port %q: %w", name, ErrPortBusy)
			return
		}
		a := &attachment{
			id:     id,
			name:   name,
			stats:  h.core.Stats(id),
			io:     io,
			q:      newEgress(h.core.capacity(id), h.core.blow, h.core.Stats(id)),
			resume: make(chan struct{}, 1),
			stop:   make(chan struct{}),
			done:   make(chan struct{}),
			since:  h.cfg.Clock.Now(),
			quick:  writeTime(io, h.core.stallTime(id)),
		}
		if kd, ok := io.(KernelDropper); ok {
			a.kernel = newKernelCount(kd, h.cfg.Clock, h.log, name, a.stats) // what it dropped before is not the hub's
		}
		var out EgressQueue = a
		if l, ok := io.(FrameLimiter); ok && l.MaxFrame() < h.cfg.MaxFrame {
			out = limited{a, l.MaxFrame()}
		}
		if err = h.core.SetEgress(id, out); err != nil {
			return
		}
		a.stats.Attaches.Add(1)
		h.core.NotePeer(id, h.core.Elapsed(), describe(io), true, "")
		readerDone := make(chan struct{})
		h.wg.Add(2)
		go func() { defer h.wg.Done(); defer close(readerDone); h.reader(a) }()
		go func() {
			defer h.wg.Done()
			h.writer(a)
			<-readerDone
			close(a.done)
		}()
		h.logLater(slog.LevelInfo, "peer attached", "port", name, "peer", describe(io))
		done = a.done
	}); derr != nil {
		return nil, derr
	}
	return done, err
}

// Detach disconnects the named port's peer, if it has one.
func (h *Hub) Detach(name string) error {
	var err error
	if derr := h.do(func() {
		id, ok := h.core.Lookup(name)
		if !ok {
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		}
		if a := h.attOf(id); a != nil {
			h.endAttachment(a, errors.New("detached by request"))
		}
	}); derr != nil {
		return derr
	}
	return err
}

// endAttachment ends a's time on its port. The caller holds mu, and calls
// flushLog once it has let go of it.
func (h *Hub) endAttachment(a *attachment, why error) {
	if a.detached {
		return
	}
	a.detached = true
	if h.attOf(a.id) == a {
		if err := h.core.SetEgress(a.id, nil); err != nil { // the port is there: it holds a
			h.logLater(slog.LevelError, "detach: the core has no port for the attachment", "port", a.name, "err", err)
		}
	}
	if !h.closed { // the hub's own shutdown is no event of the run's
		h.core.NotePeer(a.id, h.core.Elapsed(), describe(a.io), false, why.Error())
	}
	close(a.stop)
	if err := a.io.Close(); err != nil {
		h.logLater(slog.LevelDebug, "close peer", "port", a.name, "err", err)
	}
	h.logLater(slog.LevelInfo, "peer detached", "port", a.name, "peer", describe(a.io), "reason", why)
}

// detach is endAttachment for a's own goroutines: it takes mu.
func (h *Hub) detach(a *attachment, why error) {
	h.mu.Lock()
	h.endAttachment(a, why)
	h.mu.Unlock()
	h.flushLog()
}

// detachReason is why a peer whose read or write (op) failed with err
// detaches. A connection closed under the reader or writer was closed on
// the hub's side, not by the hub (which marks the attachment detached
// first): by its transport, as its port stops with the session; said so,
// rather than as Go's "use of closed network connection".
func detachReason(op string, err error) error {
	if errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%s: the connection was closed on the hub's side, as its port stopped", op)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// resume is the core's OnResume: it wakes the paused reader of port id.
func (h *Hub) resume(id PortID) {
	if a := h.attOf(id); a != nil {
		select {
		case a.resume <- struct{}{}:
		default:
		}
	}
}

// reader reads batches of frames from a's peer and forwards them under the
// lock. It looks at the core's Paused after each frame: once the core holds
// the port's sender back it forwards nothing more, keeps the rest of the
// batch for when the sender is let go, and reads nothing, so the peer's own
// buffers fill and it waits, as it would for a slow peer on a direct socket
// pair. A sender thus sends at most one frame (its copies) past a mark, not
// the rest of a batch.
func (h *Hub) reader(a *attachment) {
	stats := a.stats
	id := a.id
	discards := newDiscardLog(h.cfg.Clock, h.log, a.name, "frames from the peer discarded")
	// What the peer's side dropped is counted after each read, and once
	// more as the reader ends, since a paused reader reads nothing while
	// its socket may overflow (a KernelDropper answers after Close too).
	defer a.kernel.count()
	frames := make([]*Frame, maxReadBatch)
	var next, n int // frames[next:n] were read and wait to be forwarded
	// What the reader holds as the attachment ends is lost with the peer's
	// port down.
	defer func() { h.lostRead(a, frames[next:n]) }()
	for {
		if next == n {
			var err error
			next = 0
			n, err = a.io.ReadFrames(frames, h.cfg.MaxFrame)
			a.kernel.count()
			if err != nil {
				n = 0
				var fe *FrameError
				if errors.As(err, &fe) {
					stats.Drop(fe.Reason)
					discards.note(fe.Reason, 1, err)
					continue
				}
				if errors.Is(err, ErrFrameTooLarge) {
					stats.Drop(DropOversize)
				}
				h.detach(a, detachReason("read", err))
				return
			}
		}
		waiting := h.lock()
		if a.detached {
			h.mu.Unlock()
			return
		}
		paused := false
		for next < n && !paused {
			h.core.Ingress(id, frames[next])
			frames[next] = nil
			next++
			paused = h.core.Paused(id)
		}
		if n == 0 {
			paused = h.core.Paused(id)
		}
		h.armLocked()
		h.unlock(waiting)
		if paused && !h.waitResume(a) {
			return
		}
	}
}

// lostRead counts and releases frames a's reader read from its peer but
// did not forward before the attachment ended: they are lost with the port
// down, counted as dropped on a and not received, since they never reached
// forwarding (RxFrames counts what did, as a capture's isb_ifrecv does, so
// that a replay of the capture finds the live counts).
func (h *Hub) lostRead(a *attachment, frames []*Frame) {
	if len(frames) == 0 {
		return
	}
	a.stats.dropN(DropDown, len(frames))
	// A peer's last frames as it leaves, or as the hub stops: counted, and
	// no warning of a clean shutdown.
	h.log.Debug("frames read as the port's attachment ended, dropped with the port down", "port", a.name, "frames", len(frames))
	ReleaseAll(frames)
}

// room is the core's OnRoom: it lets the injections waiting for port id
// go on (WaitRoom).
func (h *Hub) room(id PortID) {
	if ch, ok := h.rooms[id]; ok {
		close(ch)
		delete(h.rooms, id)
	}
}

// WaitRoom returns once the named port takes frames without holding them
// back, as a sender the hub paused resumes: at once unless the port pauses
// its senders (OverflowPause) and its queue passed its high-water mark, and
// then once its peer has read it down to the low-water mark, it stalled, or
// its peer went. Frames delayed for the port do not hold an injection back:
// it is never delayed itself. An injection calls it before each frame, so
// that it is held back like any port's peer (Core.Congested). It returns
// ctx's error if ctx ends first, ErrStopped if the hub stops.
func (h *Hub) WaitRoom(ctx context.Context, port string) error {
	for {
		var wait chan struct{}
		var err error
		var held PortID
		if derr := h.Do(ctx, func(c *Core) {
			id, ok := c.Lookup(port)
			switch {
			case !ok:
				err = fmt.Errorf("port %q: %w", port, ErrNoPort)
			case c.Congested(id):
				if wait = h.rooms[id]; wait == nil {
					if h.rooms == nil {
						h.rooms = make(map[PortID]chan struct{})
					}
					wait = make(chan struct{})
					h.rooms[id] = wait
				}
				if h.held == nil {
					h.held = make(map[PortID]int)
				}
				h.held[id]++
				held = id
			}
		}); derr != nil {
			return derr
		}
		if err != nil || wait == nil {
			return err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			err = ctx.Err()
		case <-h.stopped:
			err = ErrStopped
		}
		h.mu.Lock()
		h.held[held]--
		h.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// waitResume blocks while the core holds a's port back; false when the
// attachment ends meanwhile.
func (h *Hub) waitResume(a *attachment) bool {
	for {
		select {
		case <-a.resume:
		case <-a.stop:
			return false
		}
		h.mu.Lock()
		paused := !a.detached && h.core.Paused(a.id)
		h.mu.Unlock()
		if !paused {
			return true
		}
	}
}

// writer hands the frames queued for a's peer to its transport, as many at
// once as have piled up, up to a batch its peer is seen to take quickly
// (see quickWrites).
func (h *Hub) writer(a *attachment) {
	batch := make([]*Frame, maxWriteBatch)
	discards := newDiscardLog(h.cfg.Clock, h.log, a.name, "frames to the peer lost: its transport could not send them")
	defer a.q.discard(a.stats) // what is left once the core no longer appends
	limit := 1
	if a.quick == 0 {
		limit = maxWriteBatch
	}
	for {
		if !a.q.wait(a.stop) {
			return
		}
		n := a.q.peek(batch[:limit])
		var start time.Time
		if a.quick > 0 {
			start = h.cfg.Clock.Now()
		}
		err := h.write(a, batch[:n], discards)
		if a.quick > 0 {
			limit = nextBatch(limit, n, h.cfg.Clock.Now().Sub(start), a.quick)
		}
		a.q.commit(n)
		ReleaseAll(batch[:n])
		if a.q.drainWanted() {
			h.drained(a)
		}
		if err != nil {
			h.detach(a, detachReason("write", err))
			<-a.stop
			return
		}
	}
}

// write sends frames to a's peer, counting (and logging) those the
// transport discards.
func (h *Hub) write(a *attachment, frames []*Frame, discards *discardLog) error {
	for len(frames) > 0 {
		n, err := a.io.WriteFrames(frames)
		if err == nil {
			return nil
		}
		var fe *FrameError
		if errors.As(err, &fe) && n < len(frames) {
			a.stats.Drop(fe.Reason)
			discards.note(fe.Reason, 1, err)
			frames = frames[n+1:]
			continue
		}
		a.stats.dropN(lostReason(a, err), len(frames)-n)
		return err
	}
	return nil
}

// lostReason is why frames a's transport failed to write (with err) were
// lost: the port's peer went (DropDown) when the hub itself ended the
// attachment, or the transport's own side closed it (net.ErrClosed: a
// port's runner closing its connections as serve stops), under the
// write; a failed transport otherwise.
func lostReason(a *attachment, err error) DropReason {
	select {
	case <-a.stop:
		return DropDown
	default:
	}
	if errors.Is(err, net.ErrClosed) {
		return DropDown
	}
	return DropWrite
}

// drained tells the core a's queue is down to its low-water mark.
func (h *Hub) drained(a *attachment) {
	waiting := h.lock()
	if !a.detached {
		h.core.Drained(a.id)
		h.armLocked()
	}
	h.unlock(waiting)
}

// PortStatus is a snapshot of one port for the control API and logs.
type PortStatus struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Attached    bool      `json:"attached"`
	Peer        string    `json:"peer,omitempty"`
	Since       time.Time `json:"since,omitzero"`
	Queued      int       `json:"queued"`
	// InjectionsHeld is how many injections wait for the port to have
	// room (WaitRoom).
	InjectionsHeld int           `json:"injections_held,omitempty"`
	Flow           FlowStatus    `json:"flow"`
	Stats          StatsSnapshot `json:"stats"`
	// Remotes are the attached PortIO's remote endpoints, if it is a
	// RemoteLister (a VXLAN port's remote VTEPs).
	Remotes []RemoteStatus `json:"remotes,omitempty"`
	// Learning is the attached PortIO's own learning table, if it is a
	// Learner (a VXLAN port's).
	Learning *LearningStatus `json:"learning,omitempty"`
}

// A Learner is a PortIO that keeps a learning table of its own beside the
// hub's: a VXLAN port's, of the remote VTEP each MAC sits behind (or the
// hub's side, for the MACs the port sends from). Learning
// is called from any goroutine while the port reads and writes, and may be
// called after the port was detached and closed; Hub.Ports calls it off
// the hub's forwarding loop (reading a table may age much of it out, and
// waits for the port's reader and writer) and puts what it returns in
// PortStatus.Learning.
type Learner interface {
	Learning() LearningStatus
}

// LearningStatus is a port's own learning table (Learner).
type LearningStatus struct {
	Entries int    `json:"entries"` // MACs it holds now, none aged
	Size    int    `json:"size"`    // the most it holds
	Evicted uint64 `json:"evicted"` // entries a new MAC pushed out of the full table before they aged
	// Moves counts MACs seen at one place and then, before they aged, at
	// another: behind another remote, behind a remote after the hub's
	// side, or back.
	Moves uint64 `json:"moves"`
}

// RemoteStatus is one remote endpoint of a port (RemoteLister): what was
// sent to it and heard from it, in datagrams.
type RemoteStatus struct {
	Addr     string `json:"addr"`     // its address ("10.0.0.2")
	Sent     uint64 `json:"sent"`     // datagrams sent to it
	Received uint64 `json:"received"` // datagrams received from it, refused ones too
	// LastHeard is when the last of them arrived; zero if none has.
	LastHeard time.Time `json:"last_heard,omitzero"`
	// Quiet says it was heard and then sent nothing for the port's
	// silence period (logged then); the next datagram from it ends it.
	Quiet bool `json:"quiet"`
}

// Ports returns every port's status, by name.
func (h *Hub) Ports(ctx context.Context) ([]PortStatus, error) {
	var out []PortStatus
	var learners []Learner     // out[i]'s, read once Do has returned
	var kernels []*kernelCount // out[i]'s, counted once Do has returned
	err := h.Do(ctx, func(c *Core) {
		for _, info := range c.Ports() {
			st := PortStatus{Name: info.Name, Description: info.Description, Flow: c.Flow(info.ID), Stats: c.Stats(info.ID).Snapshot()}
			var l Learner
			var k *kernelCount
			if a := h.attOf(info.ID); a != nil {
				st.Attached = true
				st.Peer = describe(a.io)
				st.Since = a.since
				st.Queued = a.q.len()
				st.InjectionsHeld = h.held[info.ID]
				if rl, ok := a.io.(RemoteLister); ok {
					st.Remotes = rl.Remotes()
				}
				l, _ = a.io.(Learner)
				k = a.kernel
			}
			out = append(out, st)
			learners = append(learners, l)
			kernels = append(kernels, k)
		}
	})
	for i, l := range learners {
		if l != nil {
			ls := l.Learning()
			out[i].Learning = &ls
		}
		if k := kernels[i]; k != nil {
			k.count()
			out[i].Stats.Drops = k.stats.Snapshot().Drops
		}
	}
	return out, err
}

// Links returns the counters of every link that has carried or dropped a
// frame (see Core.Links).
func (h *Hub) Links(ctx context.Context) ([]LinkStats, error) {
	var out []LinkStats
	err := h.Do(ctx, func(c *Core) { out = c.Links() })
	return out, err
}

// Stats returns the named port's live counters (nil if there is no such port).
// Safe to call from any goroutine once the port exists.
func (h *Hub) Stats(ctx context.Context, name string) *PortStats {
	var s *PortStats
	h.Do(ctx, func(c *Core) {
		if id, ok := c.Lookup(name); ok {
			s = c.Stats(id)
		}
	})
	return s
}

// Inject sends frame to the named port's peer, as if the hub had forwarded
// it there (Core.Inject); it is copied before Inject returns. It fails only
// for an unknown port or a stopped hub; a frame the port drops (a full
// queue, no peer, its link down) is counted there, and Inject returns why
// (DropNone: queued). To be held back as a port's peer is, call WaitRoom
// before each frame.
func (h *Hub) Inject(ctx context.Context, port string, frame []byte, notes []Note) (DropReason, error) {
	if len(frame) > h.cfg.MaxFrame {
		return DropNone, fmt.Errorf("inject into %q: %d-byte frame: %w", port, len(frame), ErrFrameTooLarge)
	}
	f := FrameOf(frame)
	var err error
	var reason DropReason
	if derr := h.Do(ctx, func(c *Core) {
		id, ok := c.Lookup(port)
		if !ok {
			err = fmt.Errorf("inject into %q: %w", port, ErrNoPort)
			f.Release()
			return
		}
		reason = c.Inject(id, f, notes)
	}); derr != nil {
		f.Release()
		return DropNone, derr
	}
	return reason, err
}

// SetPolicy swaps the policy atomically with respect to frames: every frame
// before the call sees the old policy, every frame after it the new one.
func (h *Hub) SetPolicy(ctx context.Context, p Policy) error {
	return h.Do(ctx, func(c *Core) { c.SetPolicy(p) })
}

func describe(io PortIO) string {
	if d, ok := io.(Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("%T", io)
}
