package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"l2hub/hub"
)

// A vxlan port's frame path. ReadFrames decapsulates one datagram (decap
// checks its sender, header and VNI, and learns the VTEP behind the inner
// source MAC); WriteFrames encapsulates each frame and sends it to the VTEP
// its destination was learned on, or floods it. A refused datagram is a
// sourceError that names its sender. The learning table is vxlan_fdb.go's.

// A sourceError is a datagram's refusal (its *hub.FrameError) with who
// sent it, so that the hub's log of discarded frames names the sender.
type sourceError struct {
	fe  hub.FrameError
	src netip.AddrPort
}

func refused(src netip.AddrPort, r hub.DropReason, n int) error {
	return &sourceError{fe: hub.FrameError{Reason: r, Len: n}, src: src}
}

func (e *sourceError) Error() string {
	why := ""
	switch e.fe.Reason {
	case hub.DropForeign:
		why = ", which is no remote of this port (it reads only its remote= VTEPs' datagrams)"
	case hub.DropOwnEcho:
		why = ", this port's own address: it sent the datagram itself (something returns its datagrams to it, or a remote= is an address of this host)"
	}
	return fmt.Sprintf("datagram from %s%s: %v", e.src, why, &e.fe)
}

func (e *sourceError) Unwrap() error { return &e.fe }

// decap checks a VXLAN datagram from src and returns its inner frame, or
// why it is refused; truncated says the datagram was longer than d. Only
// the remotes' datagrams are read (from a remote's IP, any port: see
// remoteOf); with a group, anyone's. It learns the inner source
// MAC's VTEP: the remote it came from; with a group, its sender at the
// overlay's port (a kernel VTEP sends from a port of its own per flow).
// When that remote is unknown (several share its IP) it forgets the MAC,
// wherever it was, so that frames to it are flooded and reach it whichever
// it is. An inner frame tagged 802.1Q is carried as any other, as the
// kernel does (RFC 7348 §6.1 would have it dropped unless configured).
func (v *VXLANConn) decap(d []byte, src netip.AddrPort, limit int, truncated bool) ([]byte, error) {
	r, known := v.remoteOf(src)
	switch {
	case !known && !v.cfg.Group.IsValid():
		return nil, refused(src, hub.DropForeign, len(d))
	case len(d) < vxlanHeaderLen || d[0]&vxlanFlagI == 0:
		return nil, refused(src, hub.DropEncap, len(d))
	case d[4] != v.vni[0] || d[5] != v.vni[1] || d[6] != v.vni[2]:
		return nil, refused(src, hub.DropVNI, len(d))
	}
	inner := d[vxlanHeaderLen:]
	switch {
	case truncated:
		return nil, refused(src, hub.DropOversize, len(inner))
	case len(inner) < MinFrame:
		return nil, refused(src, hub.DropRunt, len(inner))
	case len(inner) > v.max || len(inner) > limit:
		return nil, refused(src, hub.DropOversize, len(inner))
	}
	if inner[6]&1 != 0 { // a multicast source is no address to learn
		return inner, nil
	}
	switch {
	case r != nil:
		v.learn([6]byte(inner[6:12]), r.ap)
	case v.cfg.Group.IsValid():
		v.learn([6]byte(inner[6:12]), netip.AddrPortFrom(src.Addr(), v.cfg.Local.Port()))
	default:
		if mv, logIt := v.fdb.forget([6]byte(inner[6:12]), netip.AddrPortFrom(src.Addr(), 0)); logIt {
			v.logMove(mv)
		}
	}
	return inner, nil
}

// learn notes mac behind vtep, or, for the zero AddrPort, on this hub's
// side (the source of a frame the port sends), and logs the move, if any,
// that fdb hands back (the first of each MAC, rate-limited).
func (v *VXLANConn) learn(mac [6]byte, vtep netip.AddrPort) {
	if mv, logIt := v.fdb.learn(mac, vtep); logIt {
		v.logMove(mv)
	}
}

// logMove logs a MAC's move (apart from learn, so that the frame path
// does not allocate what the line takes).
func (v *VXLANConn) logMove(mv fdbMove) {
	why := "a VM that moved, or a host sending with another's address (which draws that address's frames to it)"
	switch {
	case !mv.from.IsValid():
		why = "frames to it now go to the overlay: a VM that moved there, or a remote sending with a VM's address here"
	case mv.to.Port() == 0:
		why = "which of the remotes at that IP sent it is unknown, so frames to it are flooded to every remote until it is seen again"
	}
	args := []any{"mac", net.HardwareAddr(mv.mac[:]).String(), "from", v.place(mv.from), "to", v.place(mv.to),
		"note", "counted as moved in `l2hub ctl ports`; logged once per MAC, at most every " + logEvery.String()}
	if mv.unlogged > 0 {
		args = append(args, "first_moves_unlogged", mv.unlogged)
	}
	v.cfg.Logger.Info(fmt.Sprintf("MAC %s moved from %s to %s: %s", net.HardwareAddr(mv.mac[:]), v.place(mv.from), v.place(mv.to), why), args...)
}

// place names where the learning table has a MAC: a remote VTEP (as
// Remotes names it), or this hub's side; or, port 0, a port of an IP
// that several remotes share, which of them unknown (fdbMove).
func (v *VXLANConn) place(vtep netip.AddrPort) string {
	switch r := v.remotes[vtep]; {
	case !vtep.IsValid():
		return "this hub's side"
	case r != nil:
		return "remote VTEP " + r.name
	case vtep.Port() == 0:
		return "VTEP " + vtep.Addr().String() + " on a port no remote= names"
	}
	return "VTEP " + vtep.String()
}

// lookup returns the VTEP a unicast MAC was learned on.
func (v *VXLANConn) lookup(mac []byte) (netip.AddrPort, bool) {
	if mac[0]&1 != 0 {
		return netip.AddrPort{}, false
	}
	return v.fdb.lookup([6]byte(mac))
}

// ReadFrames implements hub.PortIO, one datagram per call.
func (v *VXLANConn) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	if v.closed.Load() {
		return 0, net.ErrClosed
	}
	n, oobn, flags, src, err := v.c.ReadMsgUDPAddrPort(v.rbuf, v.roob)
	if err != nil {
		if v.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, fmt.Errorf("%s: read: %w", v.desc, err)
	}
	if drops, ok := rxqOverflow(v.roob[:oobn]); ok {
		v.drops.report(drops)
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if v.own(src) {
		return 0, refused(src, hub.DropOwnEcho, max(n-vxlanHeaderLen, 0))
	}
	if r, _ := v.remoteOf(src); r != nil {
		v.heard(r)
	}
	truncated := flags&syscall.MSG_TRUNC != 0 || n == len(v.rbuf)
	inner, err := v.decap(v.rbuf[:n], src, limit, truncated)
	if err != nil {
		return 0, err
	}
	f := hub.FrameOf(inner)
	f.SetOrigin(v.origin(src))
	frames[0] = f
	return 1, nil
}

// WriteFrames implements hub.PortIO: each frame encapsulated, to the VTEP
// its destination MAC was learned on, or to every remote (the group) when
// there is none. A frame too long for the underlay's MTU is not sent: it
// is reported as a *hub.FrameError (DropOversize).
func (v *VXLANConn) WriteFrames(frames []*hub.Frame) (int, error) {
	if v.closed.Load() {
		return 0, net.ErrClosed
	}
	for i, f := range frames {
		if err := v.write(f.Bytes()); err != nil {
			return i, err
		}
	}
	return len(frames), nil
}

func (v *VXLANConn) write(frame []byte) error {
	if len(frame) < MinFrame || len(frame) > v.max {
		return &hub.FrameError{Reason: hub.DropOversize, Len: len(frame)}
	}
	b := v.wbuf[:vxlanHeaderLen+len(frame)]
	b[0], b[1], b[2], b[3] = vxlanFlagI, 0, 0, 0
	b[4], b[5], b[6], b[7] = v.vni[0], v.vni[1], v.vni[2], 0
	copy(b[vxlanHeaderLen:], frame)
	// A unicast source is learned on this hub's side, a unicast
	// destination looked up: one call, one lock, one reading of the clock
	// (the limiter reads it again for a MAC's first move, logged).
	srcUnicast, dstUnicast := frame[6]&1 == 0, frame[0]&1 == 0
	if srcUnicast || dstUnicast {
		vtep, ok, mv, logIt := v.fdb.sent([6]byte(frame[6:12]), srcUnicast, [6]byte(frame[0:6]), dstUnicast)
		if logIt {
			v.logMove(mv)
		}
		if ok {
			return v.send(b, vtep)
		}
	}
	// A flood reached the overlay if any remote took it: one remote the
	// underlay cannot reach loses its copy, not the frame.
	delivered := false
	var first error
	for _, to := range v.flood {
		err := v.send(b, to)
		switch {
		case err == nil:
			delivered = true
		case errors.Is(err, net.ErrClosed):
			return err
		case first == nil:
			first = err
		}
	}
	if delivered {
		return nil
	}
	return first
}

// send sends one datagram. Only a closed socket ends the port; any other
// failure is this frame's loss (a *hub.FrameError): a frame too long for
// the path is oversize, and a VTEP the local system refuses to send to now
// (no route, a blackhole or prohibit route, a firewall's EPERM or EACCES)
// is the overlay's loss, as with the kernel's vxlan device, counted as
// port-down, and the next frame tries again. ICMP errors are not seen: the
// socket is unconnected and has no IP_RECVERR, so a remote that answers
// "port unreachable" (its VTEP is gone) or that is not there at all takes
// the datagram as sent, as the kernel's vxlan device does. (Counting those
// errors would be wrong anyway: Open vSwitch's userspace datapath reads
// the underlay with a packet socket, and its host's kernel answers every
// datagram it takes with port unreachable.) A remote that has gone away
// shows as silence instead: Remotes, and a log line after Silence.
func (v *VXLANConn) send(b []byte, to netip.AddrPort) error {
	_, err := v.c.WriteToUDPAddrPort(b, to)
	switch {
	case err == nil:
		if r := v.remotes[to]; r != nil {
			r.tx.Add(1)
		}
		return nil
	case v.closed.Load(), errors.Is(err, net.ErrClosed):
		return net.ErrClosed
	case errors.Is(err, syscall.EMSGSIZE):
		return fmt.Errorf("%s: write: %w (%w)", v.desc, &hub.FrameError{Reason: hub.DropOversize, Len: len(b) - vxlanHeaderLen}, err)
	}
	return fmt.Errorf("%s: write to %s: %w (%w)", v.desc, to, &hub.FrameError{Reason: hub.DropDown, Len: len(b) - vxlanHeaderLen}, err)
}
