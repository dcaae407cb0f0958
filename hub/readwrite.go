package hub

// This file holds each attachment's two goroutines: the reader, which
// reads a batch of frames from the peer and forwards it under the hub's
// lock, stopping while the core pauses the port (Core.Paused), and the
// writer, which drains the port's egress ring into the transport in
// batches sized to what the peer takes (quickWrites), and tells the core
// when the ring has drained.

import (
	"errors"
	"net"
	"time"
)

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

// resume is the core's OnResume: it wakes the paused reader of port id.
func (h *Hub) resume(id PortID) {
	if a := h.attOf(id); a != nil {
		select {
		case a.resume <- struct{}{}:
		default:
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
