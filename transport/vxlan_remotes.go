package transport

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"l2hub/hub"
)

// The remote VTEPs a vxlan port floods to and reads from: what it knows of
// each and the name it gives it, which remote a datagram's source is
// (several may share an IP), the counters Remotes reports, the comment
// that marks a frame from one in a capture, and the watch that logs a
// remote gone quiet (VXLANConfig.Silence).

// remoteState is what a port knows of one remote VTEP.
type remoteState struct {
	ap     netip.AddrPort
	name   string        // its IP, or IP:port when its port is not the local one (vtepName): in logs, ctl ports, metrics
	origin string        // the comment of the frames from it in a capture ("vtep " + name)
	tx     atomic.Uint64 // datagrams sent to it (the writer's)
	rx     uint64        // datagrams received from it, usable or not
	last   time.Time     // when the last of them arrived; zero: never
	quiet  bool          // logged as quiet, not heard since
}

// addRemotes fills remotes, byIP and order.
func (v *VXLANConn) addRemotes(remotes []netip.AddrPort) {
	for _, ap := range remotes {
		if v.remotes[ap] != nil {
			continue // given twice: one VTEP (Spec refuses it)
		}
		r := &remoteState{ap: ap, name: vtepName(ap, v.cfg.Local.Port())}
		r.origin = "vtep " + r.name
		v.remotes[ap] = r
		v.order = append(v.order, r)
		if _, dup := v.byIP[ap.Addr()]; dup {
			v.byIP[ap.Addr()] = nil
		} else {
			v.byIP[ap.Addr()] = r
		}
	}
}

// vtepName names a remote VTEP in logs, ctl ports and metrics (the remote
// label): by its IP, as a user names a VTEP, when it is at the port's own
// UDP port (as a remote= without a port is), and by IP:port otherwise. The
// name depends on nothing else, so adding or removing another remote
// renames no series; and no two remotes share one, since only one at an
// IP can have the local port.
func vtepName(ap netip.AddrPort, localPort uint16) string {
	if ap.Port() == localPort {
		return ap.Addr().String()
	}
	return ap.String()
}

// remoteOf returns the remote VTEP a datagram from src comes from, and
// whether src is a remote's IP at all. A remote's own address is that
// remote; otherwise the one remote with src's IP is (the kernel and Open
// vSwitch send from a port they pick per flow). When several remotes share
// the IP and src's port is none of theirs, which one sent it is unknown:
// the datagram is a remote's (known), but r is nil.
func (v *VXLANConn) remoteOf(src netip.AddrPort) (r *remoteState, known bool) {
	if r := v.remotes[src]; r != nil {
		return r, true
	}
	r, known = v.byIP[src.Addr()]
	return r, known
}

// heard counts a datagram from r, if it is a remote, and logs a remote
// that had gone quiet.
func (v *VXLANConn) heard(r *remoteState) {
	if r == nil {
		return
	}
	now := v.cfg.Clock.Now()
	v.remoteMu.Lock()
	r.rx++
	wasQuiet, since := r.quiet, now.Sub(r.last)
	r.last, r.quiet = now, false
	v.remoteMu.Unlock()
	if wasQuiet {
		v.cfg.Logger.Info(fmt.Sprintf("remote VTEP %s: heard again, after %v", r.name, since.Round(time.Second)), "remote", r.name)
	}
}

// checkQuiet logs each remote that was heard and then sent nothing for the
// port's Silence, and runs again when the next one could fall quiet.
func (v *VXLANConn) checkQuiet() {
	now := v.cfg.Clock.Now()
	next := v.cfg.Silence
	var quiet []*remoteState
	v.remoteMu.Lock()
	for _, r := range v.order {
		if r.last.IsZero() || r.quiet {
			continue
		}
		if idle := now.Sub(r.last); idle >= v.cfg.Silence {
			r.quiet = true
			quiet = append(quiet, r)
		} else {
			next = min(next, v.cfg.Silence-idle)
		}
	}
	v.remoteMu.Unlock()
	slices.SortFunc(quiet, func(a, b *remoteState) int { return a.ap.Compare(b.ap) })
	for _, r := range quiet {
		v.cfg.Logger.Info(fmt.Sprintf("remote VTEP %s: nothing heard for %v (normal if it has nothing to send; if it should, check that it still runs and names this VTEP)", r.name, v.cfg.Silence),
			"remote", r.name)
	}
	v.watchMu.Lock()
	defer v.watchMu.Unlock()
	if !v.closed.Load() {
		v.watch.Reset(next)
	}
}

// Remotes implements hub.RemoteLister: each remote VTEP's counters, in
// the order configured; none for a group. A remote is named by its IP, or
// by IP:port when its UDP port is not the port's own (vtepName). Quiet is
// set once the port has logged the remote as quiet (VXLANConfig.Silence).
// Safe to call while the port runs.
func (v *VXLANConn) Remotes() []hub.RemoteStatus {
	out := make([]hub.RemoteStatus, 0, len(v.order))
	v.remoteMu.Lock()
	defer v.remoteMu.Unlock()
	for _, r := range v.order {
		out = append(out, hub.RemoteStatus{Addr: r.name, Sent: r.tx.Load(), Received: r.rx, LastHeard: r.last, Quiet: r.quiet})
	}
	return out
}

// origin returns the comment for frames from src: its remote's, or, for a
// group's member or a port of an IP that several remotes share, one made
// once per IP, so that marking a frame allocates nothing (bounded: IPs
// beyond the learning table's size share one).
func (v *VXLANConn) origin(src netip.AddrPort) string {
	if r, _ := v.remoteOf(src); r != nil {
		return r.origin
	}
	vtep := src.Addr()
	if o, ok := v.origins[vtep]; ok {
		return o
	}
	if len(v.origins) >= fdbSize {
		return "vtep (one of many)"
	}
	o := "vtep " + vtep.String()
	v.origins[vtep] = o
	return o
}
