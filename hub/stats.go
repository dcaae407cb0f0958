package hub

import (
	"sync/atomic"
	"time"
)

// PortStats are one port's counters. They live as long as the port, across
// its peer's disconnects and reconnects, and are updated with atomics by the
// loop, the reader and the writer, so they can be read at any time.
type PortStats struct {
	RxFrames, RxBytes atomic.Uint64 // frames that reached the core from the peer
	TxFrames, TxBytes atomic.Uint64 // frames handed to the port's egress queue
	drops             [numDropReasons]atomic.Uint64
	Attaches          atomic.Uint64 // peers attached over the port's life
	Refused           atomic.Uint64 // peers refused because the port was busy
	// Flow control: how often the port's sender was paused (its frames
	// waited above another port's high-water mark), for how long in all
	// (pauses that have ended), and how often the port stalled.
	Pauses      atomic.Uint64
	PausedNanos atomic.Uint64
	Stalls      atomic.Uint64
	// MACMoves counts the source MACs a switch learned on this port that
	// it had learned on another: a VM moved, or two VMs share one MAC.
	MACMoves atomic.Uint64
}

// Drop counts one frame dropped for reason r.
func (s *PortStats) Drop(r DropReason) {
	if r < numDropReasons {
		s.drops[r].Add(1)
	}
}

// dropN counts n frames dropped for reason r.
func (s *PortStats) dropN(r DropReason, n int) {
	if r < numDropReasons {
		s.drops[r].Add(uint64(n))
	}
}

// Drops returns the number of frames dropped for reason r.
func (s *PortStats) Drops(r DropReason) uint64 {
	if r < numDropReasons {
		return s.drops[r].Load()
	}
	return 0
}

// StatsSnapshot is a plain copy of PortStats, for JSON and comparisons.
type StatsSnapshot struct {
	RxFrames uint64            `json:"rx_frames"`
	RxBytes  uint64            `json:"rx_bytes"`
	TxFrames uint64            `json:"tx_frames"`
	TxBytes  uint64            `json:"tx_bytes"`
	Drops    map[string]uint64 `json:"drops,omitempty"`
	Attaches uint64            `json:"attaches"`
	Refused  uint64            `json:"refused,omitempty"`
	Pauses   uint64            `json:"pauses,omitempty"`
	Paused   time.Duration     `json:"paused_ns,omitempty"`
	Stalls   uint64            `json:"stalls,omitempty"`
	MACMoves uint64            `json:"mac_moves,omitempty"`
}

// Snapshot copies the counters; zero drop counts are left out.
func (s *PortStats) Snapshot() StatsSnapshot {
	out := StatsSnapshot{
		RxFrames: s.RxFrames.Load(),
		RxBytes:  s.RxBytes.Load(),
		TxFrames: s.TxFrames.Load(),
		TxBytes:  s.TxBytes.Load(),
		Attaches: s.Attaches.Load(),
		Refused:  s.Refused.Load(),
		Pauses:   s.Pauses.Load(),
		Paused:   time.Duration(s.PausedNanos.Load()),
		Stalls:   s.Stalls.Load(),
		MACMoves: s.MACMoves.Load(),
	}
	for _, r := range DropReasons() {
		if n := s.drops[r].Load(); n > 0 {
			if out.Drops == nil {
				out.Drops = make(map[string]uint64)
			}
			out.Drops[r.String()] = n
		}
	}
	return out
}

// LinkStats are the counters of the link from one port to another, the
// ordered pair (From, To). Frames and Bytes count the frames from From's
// peer that the core queued for To's peer (each copy a duplicate rule makes
// counts); Drops counts those it dropped on the way: by the policy, by flow
// control (stalled, queue-full, backlog-full), for want of a peer on To
// (port-down) or at the delay bound (delay-full). A frame dropped before
// it reached a link (a runt, a reflection) counts on no link, only on its
// port (PortStats); injected frames count on none.
type LinkStats struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Frames uint64 `json:"frames"`
	Bytes  uint64 `json:"bytes"`
	Drops  uint64 `json:"drops"`
}

// Links returns the counters of every link between two live ports that
// has carried or dropped a frame, by (From, To): a hub of n ports has at
// most n(n-1), and only the pairs that saw traffic are listed.
func (c *Core) Links() []LinkStats {
	var out []LinkStats
	for _, from := range c.order {
		p := c.ports[from]
		for _, to := range c.order {
			if int(to) >= len(p.links) {
				continue
			}
			if l := &p.links[to]; l.frames+l.drops > 0 {
				out = append(out, LinkStats{From: p.name, To: c.ports[to].name, Frames: l.frames, Bytes: l.bytes, Drops: l.drops})
			}
		}
	}
	return out
}
