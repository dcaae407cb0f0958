package hub

// This file holds what other goroutines ask of a running hub, through Do:
// the status of every port (PortStatus, with the Learner and RemoteLister
// a transport may add), the links' counters, a frame injected into a
// port's egress (Inject, held back for room with WaitRoom), and a policy
// swapped in (SetPolicy).

import (
	"context"
	"fmt"
	"time"
)

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
// it there (Core.Inject); it is copied before Inject returns. It fails for
// an unknown port, a frame longer than MaxFrame (ErrFrameTooLarge) or a
// stopped hub; a frame the port drops (a runt, a full queue, no peer, its
// link down) is counted there, and Inject returns why (DropNone: queued).
// To be held back as a port's peer is, call WaitRoom before each frame.
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

// room is the core's OnRoom: it lets the injections waiting for port id
// go on (WaitRoom).
func (h *Hub) room(id PortID) {
	if ch, ok := h.rooms[id]; ok {
		close(ch)
		delete(h.rooms, id)
	}
}

// SetPolicy swaps the policy atomically with respect to frames: every frame
// before the call sees the old policy, every frame after it the new one.
func (h *Hub) SetPolicy(ctx context.Context, p Policy) error {
	return h.Do(ctx, func(c *Core) { c.SetPolicy(p) })
}
