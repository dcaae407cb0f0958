package replay

import (
	"fmt"
	"slices"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Peers: when a port's VM attached and went away. A live hub delivers
// nothing to a port without one (port-down). A capture whose header says
// peers=recorded (capture.PeersKey) notes every change (hub.PeerPrefix)
// and says in each file's header which ports have a VM when the file
// starts (capture.PeersAttachedKey). A replay takes each l2hub section's
// ports up or down as its header says when it reaches the section, then
// follows the notes, so that it drops what the live hub dropped for want
// of a VM, from any file of a rotated or per-port capture. Ports of other
// captures, and of l2hub captures that do not record their peers, have a
// VM throughout.

// recordsPeers reports whether any of the headers says the capture notes
// its peer changes.
func recordsPeers(hs []capHeader) bool {
	return slices.ContainsFunc(hs, func(h capHeader) bool { return h.meta.Extra[capture.PeersKey] == capture.PeersRecorded })
}

// MaxPeerErrors bounds Result.PeerErrors.
const MaxPeerErrors = 100

// sectionPeers takes the ports of s's section that is starting up or down
// as its header says (capture.Meta.PeersAttached), before its first
// record's notes.
func (x *run) sectionPeers(s *source) {
	names, ok, err := s.meta.PeersAttached()
	if err != nil {
		x.peerError(fmt.Sprintf("%s: %v", s.in.Path, err))
		return
	}
	if !ok {
		return
	}
	for _, ch := range s.ifChan {
		if ch < 0 {
			continue
		}
		id := x.chanPort(ch)
		attached := slices.Contains(names, x.core.PortName(id))
		// The replay's capture starts saying no port has a VM, and then
		// says what it is told: a change it would not know is noted.
		if x.setPeer(id, attached) && attached != x.noted[id] {
			why := ""
			if !attached {
				why = "as the capture's header says"
			}
			x.notePeer(id, x.elapsed(), attached, "", why)
		}
	}
}

// elapsed is the replay's policy time now.
func (x *run) elapsed() time.Duration { return x.clock.Now().Sub(x.core.Start()) }

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
		if x.setPeer(id, rec.Attached) {
			x.notePeer(id, rec.At, rec.Attached, rec.Peer, rec.Reason)
			x.res.PeerChanges++
		}
	}
}

// setPeer gives port id a VM or takes it away.
func (x *run) setPeer(id hub.PortID, attached bool) bool {
	var out hub.EgressQueue // nil: no VM, frames for the port are dropped port-down
	if attached {
		out = hub.Discard{}
	}
	if err := x.core.SetEgress(id, out); err != nil { // the port exists: never
		x.peerError(fmt.Sprintf("port %q: %v", x.core.PortName(id), err))
		return false
	}
	return true
}

// notePeer notes a change in the replay's capture as the live hub noted
// it, and keeps what that capture says of the port (noted).
func (x *run) notePeer(id hub.PortID, at time.Duration, attached bool, peer, why string) {
	if x.noted == nil {
		x.noted = map[hub.PortID]bool{}
	}
	x.noted[id] = attached
	x.core.NotePeer(id, at, peer, attached, why)
}

func (x *run) peerError(msg string) {
	if len(x.res.PeerErrors) < MaxPeerErrors {
		x.res.PeerErrors = append(x.res.PeerErrors, msg)
	}
}
