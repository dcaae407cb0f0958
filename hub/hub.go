package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueLen is the default per-port egress queue length, in frames.
const DefaultQueueLen = 256

// DefaultMaxFrame is QEMU's own receive buffer limit (4096 + 65536 bytes),
// the largest frame any of its network back ends can hand over.
const DefaultMaxFrame = 4096 + 65536

// Config configures a live Hub.
type Config struct {
	Mode      Mode
	QueueLen  int // per-port egress queue, frames (default DefaultQueueLen)
	MaxFrame  int // largest frame accepted from a peer (default DefaultMaxFrame)
	AgingTime time.Duration
	Clock     Clock // required: wallclock.Clock{} for live use
	// Start is when policy time begins (default: the clock's reading in
	// New). A capture records it so that replay lines its windows up.
	Start     time.Time
	Policy    Policy
	Observers []Observer
	Logger    *slog.Logger
}

// Hub runs a Core on its own goroutine (the loop) and connects it to
// transports: each attached PortIO gets a reader goroutine feeding the loop
// and a writer goroutine draining the port's bounded egress queue, so a slow
// peer fills only its own queue.
type Hub struct {
	cfg  Config
	core *Core
	log  *slog.Logger

	ingress chan *ingressBatch
	ctl     chan func()
	stopped chan struct{} // closed when Run returns
	started chan struct{} // closed when Run starts

	ports map[string]*livePort // owned by the loop
	wg    sync.WaitGroup       // reader and writer goroutines
}

// ingressBatch is what a reader hands the loop per wake-up: the frames one
// read brought in, in arrival order. The reader owns it until it sends it;
// the loop clears busy once it has taken the frames, and the reader may
// then fill it again.
type ingressBatch struct {
	port   PortID
	n      int
	busy   atomic.Bool
	frames [maxReadBatch]*Frame
}

// maxReadBatch bounds the frames in one batch. A stream's batch is also
// bounded in bytes: its first frame plus what its read buffer held (tap's
// 32 KiB).
const maxReadBatch = 64

// ingressQueue is how many batches may wait for the loop before readers
// block (and the transports push back on their peers): at most
// ingressQueue*maxReadBatch frames. It is a batch count, not a frame count,
// so that a reader whose reads bring one frame each does not block on the
// loop (a park and a wake-up per frame) sooner than before batching, when
// the queue held 256 single frames.
const ingressQueue = 128

// release drops the batch's frames and hands it back to its reader.
func (b *ingressBatch) release() {
	for i, f := range b.frames[:b.n] {
		f.Release()
		b.frames[i] = nil
	}
	b.n = 0
	b.busy.Store(false)
}

// batchRing is a reader's batches, used in turn. The loop finishes batches
// in the order they were sent, and at most ingressQueue+1 of one reader's
// are unfinished (queued, or being forwarded) while it fills another, so
// with ingressQueue+2 slots the next one is always free again: a reader
// allocates only until it has as many batches as it ever had in flight.
type batchRing struct {
	slots [ingressQueue + 2]*ingressBatch
	next  int
}

func (r *batchRing) get(port PortID) *ingressBatch {
	b := r.slots[r.next]
	if b == nil || b.busy.Load() {
		// Unused yet (or, were the bound above wrong, still in use).
		b = &ingressBatch{port: port}
		r.slots[r.next] = b
	}
	r.next = (r.next + 1) % len(r.slots)
	b.busy.Store(true)
	return b
}

type livePort struct {
	id    PortID
	name  string
	desc  string
	stats *PortStats
	att   *attachment // nil while no peer is attached
}

// attachment is one peer's time on a port: its transport, egress queue and
// goroutines. A reconnecting peer gets a new attachment on the same port.
type attachment struct {
	port     *livePort
	io       PortIO
	q        chan *Frame
	stop     chan struct{} // closed by the loop when it detaches
	done     chan struct{} // closed when both goroutines have exited
	since    time.Time
	detached bool // loop-owned
}

// Enqueue implements EgressQueue with a non-blocking send: a full queue is a tail drop.
func (a *attachment) Enqueue(f *Frame) bool {
	select {
	case a.q <- f:
		return true
	default:
		return false
	}
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger,
		ingress: make(chan *ingressBatch, ingressQueue),
		ctl:     make(chan func()),
		stopped: make(chan struct{}),
		started: make(chan struct{}),
		ports:   make(map[string]*livePort),
	}
	h.core = NewCore(CoreConfig{
		Mode:      cfg.Mode,
		Clock:     cfg.Clock,
		Policy:    cfg.Policy,
		Observers: cfg.Observers,
		AgingTime: cfg.AgingTime,
		Logger:    cfg.Logger,
	})
	if !cfg.Start.IsZero() {
		h.core.SetStart(cfg.Start)
	}
	return h, nil
}

// MaxFrame returns the largest frame the hub accepts.
func (h *Hub) MaxFrame() int { return h.cfg.MaxFrame }

// Run runs the loop until ctx is done, then detaches every peer, waits for
// their goroutines and returns nil. (The error result is for future failure
// modes of the loop itself; today it has none.)
func (h *Hub) Run(ctx context.Context) error {
	close(h.started)
	defer close(h.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var armed time.Time
	for {
		h.core.RunDue()
		if dl, ok := h.core.NextDeadline(); ok && !dl.Equal(armed) {
			armed = dl
			timer.Reset(dl.Sub(h.cfg.Clock.Now()))
		}
		select {
		case b := <-h.ingress:
			h.forward(b)
			// Drain a burst before looking at timers and control again.
			for i := 0; i < 64; i++ {
				select {
				case b = <-h.ingress:
					h.forward(b)
					continue
				default:
				}
				break
			}
		case fn := <-h.ctl:
			fn()
		case <-timer.C:
			armed = time.Time{}
		case <-ctx.Done():
			h.shutdown()
			return nil
		}
	}
}

// forward runs one batch through the core, due timers first before each
// frame, and recycles the batch.
func (h *Hub) forward(b *ingressBatch) {
	for i, f := range b.frames[:b.n] {
		h.core.RunDue()
		h.core.Ingress(b.port, f)
		b.frames[i] = nil
	}
	b.n = 0
	b.busy.Store(false)
}

func (h *Hub) shutdown() {
	for _, p := range h.ports {
		if p.att != nil {
			h.detachLocked(p.att, errors.New("hub shutting down"))
		}
	}
	h.wg.Wait()
	for {
		select {
		case b := <-h.ingress:
			b.release()
			continue
		default:
		}
		break
	}
	h.core.Close()
}

// Do runs fn on the loop and waits for it. It is how other goroutines (the
// control API, the command) read or change hub state. Before Run starts, Do
// waits for it; after Run has returned it returns ErrStopped.
func (h *Hub) Do(ctx context.Context, fn func(c *Core)) error {
	done := make(chan struct{})
	wrapped := func() { fn(h.core); close(done) }
	select {
	case h.ctl <- wrapped:
	case <-h.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// do runs fn on the loop without a context.
func (h *Hub) do(fn func()) error {
	return h.Do(context.Background(), func(*Core) { fn() })
}

// AddPort adds a named port with no peer yet. desc says what the port is for
// ("tcp 127.0.0.1:7001"), for logs and capture interface descriptions.
func (h *Hub) AddPort(name, desc string) error {
	var err error
	if derr := h.do(func() {
		var id PortID
		id, err = h.core.AddPort(name, desc, nil)
		if err == nil {
			h.ports[name] = &livePort{id: id, name: name, desc: desc, stats: h.core.Stats(id)}
		}
	}); derr != nil {
		return derr
	}
	return err
}

// RemovePort detaches the port's peer, if any, and removes the port.
func (h *Hub) RemovePort(name string) error {
	var err error
	if derr := h.do(func() {
		p, ok := h.ports[name]
		if !ok {
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		}
		if p.att != nil {
			h.detachLocked(p.att, errors.New("port removed"))
		}
		delete(h.ports, name)
		err = h.core.RemovePort(p.id)
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
		p, ok := h.ports[name]
		switch {
		case !ok:
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		case p.att != nil:
			p.stats.Refused.Add(1)
			err = fmt.Errorf("port %q: %w", name, ErrPortBusy)
			return
		}
		a := &attachment{
			port:  p,
			io:    io,
			q:     make(chan *Frame, h.cfg.QueueLen),
			stop:  make(chan struct{}),
			done:  make(chan struct{}),
			since: h.cfg.Clock.Now(),
		}
		p.att = a
		p.stats.Attaches.Add(1)
		h.core.SetEgress(p.id, a)
		var wg sync.WaitGroup
		wg.Add(2)
		h.wg.Add(2)
		go func() { defer h.wg.Done(); defer wg.Done(); h.reader(a) }()
		go func() { defer h.wg.Done(); defer wg.Done(); h.writer(a) }()
		go func() { wg.Wait(); close(a.done) }()
		h.log.Info("peer attached", "port", name, "peer", describe(io))
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
		p, ok := h.ports[name]
		if !ok {
			err = fmt.Errorf("port %q: %w", name, ErrNoPort)
			return
		}
		if p.att != nil {
			h.detachLocked(p.att, errors.New("detached by request"))
		}
	}); derr != nil {
		return derr
	}
	return err
}

// detachLocked runs on the loop.
func (h *Hub) detachLocked(a *attachment, why error) {
	if a.detached {
		return
	}
	a.detached = true
	if a.port.att == a {
		a.port.att = nil
		h.core.SetEgress(a.port.id, nil)
	}
	close(a.stop)
	if err := a.io.Close(); err != nil {
		h.log.Debug("close peer", "port", a.port.name, "err", err)
	}
	h.log.Info("peer detached", "port", a.port.name, "peer", describe(a.io), "reason", why)
}

// requestDetach asks the loop to detach a; called from a's goroutines.
func (h *Hub) requestDetach(a *attachment, why error) {
	select {
	case h.ctl <- func() { h.detachLocked(a, why) }:
	case <-a.stop:
	case <-h.stopped:
	}
}

func (h *Hub) reader(a *attachment) {
	br, _ := a.io.(BatchReader)
	var buf []byte
	if br == nil {
		buf = make([]byte, h.cfg.MaxFrame)
	}
	stats := a.port.stats
	ring := new(batchRing)
	for {
		b := ring.get(a.port.id)
		var err error
		if br != nil {
			b.n, err = br.ReadFrames(b.frames[:], h.cfg.MaxFrame)
		} else {
			var n int
			n, err = a.io.ReadFrame(buf)
			if err == nil && n < EthHeaderLen {
				b.busy.Store(false)
				stats.Drop(DropRunt)
				continue
			}
			if err == nil {
				b.frames[0], b.n = FrameOf(buf[:n]), 1
			}
		}
		if err != nil {
			b.busy.Store(false)
			var fe *FrameError
			if errors.As(err, &fe) {
				stats.Drop(fe.Reason)
				continue
			}
			if errors.Is(err, ErrFrameTooLarge) {
				stats.Drop(DropOversize)
			}
			h.requestDetach(a, fmt.Errorf("read: %w", err))
			return
		}
		select {
		case h.ingress <- b:
		case <-a.stop:
			b.release()
			return
		}
	}
}

// maxBatch bounds how many queued frames a writer hands a BatchWriter at once.
const maxBatch = 64

func (h *Hub) writer(a *attachment) {
	stats := a.port.stats
	bw, _ := a.io.(BatchWriter)
	batch := make([]*Frame, 0, maxBatch)
	bufs := make([][]byte, 0, maxBatch)
	for {
		var f *Frame
		select {
		case f = <-a.q:
		case <-a.stop:
			h.drain(a)
			return
		}
		batch = append(batch[:0], f)
		if bw != nil {
			// Take what is already queued, without waiting for more.
		more:
			for len(batch) < maxBatch {
				select {
				case f := <-a.q:
					batch = append(batch, f)
				default:
					break more
				}
			}
		}
		var err error
		if len(batch) == 1 {
			err = a.io.WriteFrame(batch[0].Bytes())
		} else {
			bufs = bufs[:0]
			for _, f := range batch {
				bufs = append(bufs, f.Bytes())
			}
			err = bw.WriteFrames(bufs)
			clear(bufs)
		}
		n := len(batch)
		for i, f := range batch {
			f.Release()
			batch[i] = nil
		}
		if err == nil {
			continue
		}
		var fe *FrameError
		if errors.As(err, &fe) {
			stats.dropN(fe.Reason, n)
			continue
		}
		stats.dropN(DropWrite, n)
		h.requestDetach(a, fmt.Errorf("write: %w", err))
		h.drain(a)
		return
	}
}

// drain releases a's queued frames once the loop has stopped feeding it.
func (h *Hub) drain(a *attachment) {
	<-a.stop
	for {
		select {
		case f := <-a.q:
			f.Release()
		default:
			return
		}
	}
}

// PortStatus is a snapshot of one port for the control API and logs.
type PortStatus struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Attached    bool          `json:"attached"`
	Peer        string        `json:"peer,omitempty"`
	Since       time.Time     `json:"since,omitzero"`
	Queued      int           `json:"queued"`
	Stats       StatsSnapshot `json:"stats"`
}

// Ports returns every port's status, by name.
func (h *Hub) Ports(ctx context.Context) ([]PortStatus, error) {
	var out []PortStatus
	err := h.Do(ctx, func(c *Core) {
		for _, info := range c.Ports() {
			p := h.ports[info.Name]
			st := PortStatus{Name: p.name, Description: p.desc, Stats: p.stats.Snapshot()}
			if p.att != nil {
				st.Attached = true
				st.Peer = describe(p.att.io)
				st.Since = p.att.since
				st.Queued = len(p.att.q)
			}
			out = append(out, st)
		}
	})
	return out, err
}

// Stats returns the named port's live counters (nil if there is no such port).
// Safe to call from any goroutine once the port exists.
func (h *Hub) Stats(ctx context.Context, name string) *PortStats {
	var s *PortStats
	h.Do(ctx, func(c *Core) {
		if p, ok := h.ports[name]; ok {
			s = p.stats
		}
	})
	return s
}

// Inject sends frame to the named port's peer, as if the hub had forwarded
// it there; it is copied before Inject returns. It fails only for an unknown
// port or a stopped hub; a full queue or a detached port counts a drop.
func (h *Hub) Inject(ctx context.Context, port string, frame []byte, notes []Note) error {
	if len(frame) > h.cfg.MaxFrame {
		return fmt.Errorf("inject into %q: %d-byte frame: %w", port, len(frame), ErrFrameTooLarge)
	}
	f := FrameOf(frame)
	var err error
	if derr := h.Do(ctx, func(c *Core) {
		p, ok := h.ports[port]
		if !ok {
			err = fmt.Errorf("inject into %q: %w", port, ErrNoPort)
			f.Release()
			return
		}
		c.Inject(p.id, f, notes)
	}); derr != nil {
		f.Release()
		return derr
	}
	return err
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
