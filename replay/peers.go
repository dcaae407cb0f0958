package replay

import (
	"fmt"
	"time"

	"l2hub/hub"
)

// Peers: when a port's VM attached and went away. A live hub delivers
// nothing to a port without one (port-down); a capture whose header says
// peers=recorded notes every change (hub.PeerPrefix), and a replay of it
// starts every port down and takes each up and down at the times the
// notes say, so that it drops what the live hub dropped for want of a VM.
// Captures without the header key (older ones, foreign ones) replay as if
// every port had its VM throughout.

// PeersRecorded is the capture header key (capture.Meta.Extra) and value
// that say the capture notes every peer change.
const PeersRecorded = "recorded"

// recordsPeers reports whether any of the headers says the capture notes
// its peer changes.
func recordsPeers(hs []capHeader) bool {
	for _, h := range hs {
		if h.meta.Extra["peers"] == PeersRecorded {
			return true
		}
	}
	return false
}

// MaxPeerErrors bounds Result.PeerErrors.
const MaxPeerErrors = 100

// peerChanges makes the peer changes a comment line records, at their
// run times (see makeEdits for before).
func (x *run) peerChanges(line string, number int, before time.Time) {
	recs, errs := hub.ParsePeers(line)
	for _, err := range errs {
		x.peerError(fmt.Sprintf("frame %d: %v", number, err))
	}
	for _, rec := range recs {
		id, ok := x.pids[rec.Port]
		if !ok {
			x.peerError(fmt.Sprintf("frame %d: recorded peer change on port %q, which the capture does not describe", number, rec.Port))
			continue
		}
		at := x.core.Start().Add(rec.At)
		if !before.IsZero() && before.Before(at) {
			at = before.Add(-time.Nanosecond)
		}
		x.drv.AdvanceTo(at, nil)
		var out hub.EgressQueue // nil: no VM, frames for the port are dropped port-down
		if rec.Attached {
			out = hub.Discard{}
		}
		if err := x.core.SetEgress(id, out); err != nil { // the port exists: never
			x.peerError(fmt.Sprintf("frame %d: port %q: %v", number, rec.Port, err))
			continue
		}
		x.core.NotePeer(id, rec.At, rec.Peer, rec.Attached, rec.Reason)
		x.res.PeerChanges++
	}
}

func (x *run) peerError(msg string) {
	if len(x.res.PeerErrors) < MaxPeerErrors {
		x.res.PeerErrors = append(x.res.PeerErrors, msg)
	}
}
