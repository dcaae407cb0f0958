package hub

// This file holds the live hub's ports and the peers attached to them:
// AddPort and RemovePort, Attach, which gives a port's peer an attachment
// (its transport, its egress ring, its reader and writer goroutines) and
// makes it the port's EgressQueue in the core, and Detach and the other
// ways an attachment ends. The goroutines themselves are in readwrite.go.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

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

// RemovePort detaches the port's peer, if any, and removes the port.
func (h *Hub) RemovePort(name string) error {
	var err error
	if derr := h.do(func() {
		var id PortID
		if id, err = h.endPeerOf(name, "port removed"); err == nil {
			err = h.core.RemovePort(id)
		}
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
	if derr := h.do(func() { _, err = h.endPeerOf(name, "detached by request") }); derr != nil {
		return derr
	}
	return err
}

// endPeerOf ends the named port's attachment, if it has one, for why, and
// returns the port's ID; mu is held.
func (h *Hub) endPeerOf(name, why string) (PortID, error) {
	id, ok := h.core.Lookup(name)
	if !ok {
		return 0, fmt.Errorf("port %q: %w", name, ErrNoPort)
	}
	if a := h.attOf(id); a != nil {
		h.endAttachment(a, errors.New(why))
	}
	return id, nil
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

func describe(io PortIO) string {
	if d, ok := io.(Describer); ok {
		return d.Describe()
	}
	return fmt.Sprintf("%T", io)
}
