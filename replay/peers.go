package replay

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Peers: when a port's VM attached and went away. A live hub delivers
// nothing to a port without one (port-down). A capture whose header says
// peers=recorded (capture.PeersKey) notes every change (hub.PeerPrefix)
// and says in each file's header which ports have a VM when the file
// starts (capture.PeersAttachedKey). A replay takes the run's ports up or
// down as each input's first header says from the start, and as each
// later section's says when it reaches it (where no newer change was
// made), and follows the notes at their times, so that it drops what the
// live hub dropped for want of a VM, from any files of a rotated or
// per-port capture. Ports of other captures, and of l2hub captures that
// do not record their peers, have a VM throughout.

// recordsPeers reports whether any of the headers says the capture notes
// its peer changes.
func recordsPeers(hs []capHeader) bool {
	return slices.ContainsFunc(hs, func(h capHeader) bool { return h.meta.Extra[capture.PeersKey] == capture.PeersRecorded })
}

// MaxPeerErrors bounds Result.PeerErrors.
const MaxPeerErrors = 100

// sectionPeers takes the run's ports up or down as the header of s's
// section that is starting says, before its first record's notes (first):
// as of the section's start, which is the set-policy that started it, or
// else (a rotation) its first record, and never before the time the
// replay reached.
func (x *run) sectionPeers(s *source, first *capture.Packet) {
	from := first.Time.Sub(x.core.Start())
	h := capHeader{s.in.Path, s.meta}
	if begun, known := begunBySetPolicy(h); begun || !known {
		from = min(from, runPolicyOf(h).since)
	}
	x.headerPeers(s.in.Path, s.meta, max(from, x.elapsed()))
}

// headerPeers takes the run's ports up or down as a header says
// (capture.Meta.PeersAttached), as of policy time from (when the file
// starts, for the replay's capture to note): each port whose latest change
// the replay has made is older than the header's state. A change noted in another
// input that the replay made already and that is newer stands (a
// per-port file's header was written when its port was added, before the
// run's VMs came). A header says what every port of the run has, not
// only its file's (a per-port file's port).
func (x *run) headerPeers(path string, meta capture.FileMeta, from time.Duration) {
	names, at, ok, err := meta.PeersAttached()
	if err != nil {
		// Read as a header without the key: no port has a VM, as of 0;
		// the notes say when VMs came.
		if !x.badHeaders[path] {
			if x.badHeaders == nil {
				x.badHeaders = map[string]bool{}
			}
			x.badHeaders[path] = true
			x.peerError(fmt.Sprintf("%s: %v; taken as no port with a VM at the start", path, err))
		}
		names, at, ok = nil, 0, true
	}
	if !ok {
		return
	}
	for _, c := range x.r.chans {
		if !c.l2hub {
			continue
		}
		id, ok := x.pids[c.name]
		if !ok {
			continue
		}
		if last, ok := x.changed[id]; ok && last >= at {
			continue
		}
		attached := slices.Contains(names, c.name)
		// The replay's capture starts saying no port has a VM, and then
		// says what it is told: a change it would not know is noted.
		if x.setPeer(id, at, attached) && attached != x.noted[id] {
			why := ""
			if !attached {
				why = "as the capture's header says"
			}
			x.notePeer(id, from, attached, "", why)
		}
	}
}

// earlyPeers makes, before a record stamped t of one input, the peer
// changes that other inputs' next records note and that are stamped
// before t: a change is noted on the record after it in its own input,
// which may come after other inputs' records (another tool's capture
// beside an l2hub one). Their records then skip them (source.early); cur's
// own record makes its changes in their order with its edits.
func (x *run) earlyPeers(srcs []*source, cur *source, t time.Time) {
	for _, o := range srcs {
		if o == cur || !o.ok || !o.l2hub || !strings.Contains(o.head.Comment, hub.PeerPrefix) {
			continue
		}
		for line := range strings.Lines(o.head.Comment) {
			line = strings.TrimRight(line, "\r\n")
			if !strings.HasPrefix(line, hub.PeerPrefix) || o.early[line] {
				continue
			}
			recs, _ := hub.ParsePeers(line)
			if len(recs) != 1 || !x.core.Start().Add(recs[0].At).Before(t) {
				continue
			}
			if o.early == nil {
				o.early = map[string]bool{}
			}
			o.early[line] = true
			x.peerChanges(line, o.head.Number, t)
		}
	}
}

// foreignPeers notes, when the replay's capture records its peers, that
// the ports of inputs which do not (other tools' captures) have a VM from
// the start, as the replay gives them one: a replay of the replay then
// does too.
func (x *run) foreignPeers() {
	l2hub := map[string]bool{}
	for _, c := range x.r.chans {
		if c.l2hub {
			l2hub[c.name] = true
		}
	}
	for _, p := range x.r.ports {
		if id, ok := x.pids[p.name]; ok && !l2hub[p.name] {
			x.notePeer(id, 0, true, "", "")
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
			continue // a port this replay does not have: one file of a per-port capture notes every port's
		}
		at := x.core.Start().Add(rec.At)
		if !before.IsZero() && before.Before(at) {
			at = before.Add(-time.Nanosecond)
		}
		x.advanceTo(at)
		if x.stop != nil {
			return // the replay stopped at a set-policy before it
		}
		if x.setPeer(id, rec.At, rec.Attached) {
			x.notePeer(id, rec.At, rec.Attached, rec.Peer, rec.Reason)
			x.res.PeerChanges++
		}
	}
}

// setPeer gives port id a VM or takes it away, a change of the run's at
// policy time at.
func (x *run) setPeer(id hub.PortID, at time.Duration, attached bool) bool {
	var out hub.EgressQueue // nil: no VM, frames for the port are dropped port-down
	if attached {
		out = hub.Discard{}
	}
	if err := x.core.SetEgress(id, out); err != nil { // the port exists: never
		x.peerError(fmt.Sprintf("port %q: %v", x.core.PortName(id), err))
		return false
	}
	if x.changed == nil {
		x.changed = map[hub.PortID]time.Duration{}
	}
	x.changed[id] = max(x.changed[id], at)
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
