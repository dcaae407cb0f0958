package transport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// VXLAN (RFC 7348) carries Ethernet frames in UDP: an 8-byte header (a
// flags byte whose I bit says the VNI is valid, reserved bytes, the 24-bit
// VXLAN network identifier) before the inner frame. The Linux kernel's
// vxlan device and Open vSwitch speak it; a vxlan port makes the hub one
// more VTEP of such an overlay.
const (
	vxlanHeaderLen = 8
	vxlanFlagI     = 0x08
	// DefaultVXLANPort is IANA's VXLAN port.
	DefaultVXLANPort = 4789
	maxVNI           = 1<<24 - 1
	// vxlanOverhead is what encapsulation adds below an inner frame on an
	// IPv4 underlay: IP, UDP and VXLAN headers. A frame of the underlay's
	// MTU less this fits one datagram unfragmented; a VM's own MTU, which
	// counts no Ethernet header, is 14 bytes less again (1450 on 1500).
	vxlanOverhead = 20 + 8 + vxlanHeaderLen
	// VXLANGuestMTUOverhead is what a VM's MTU must give up on a segment
	// that crosses a VXLAN port: 50 bytes (1450 on a 1500-byte underlay).
	VXLANGuestMTUOverhead = vxlanOverhead + 14
	defaultVXLANMTU       = 1500
	minVXLANMTU           = 576
	maxVXLANMTU           = 65535
	// fdbSize bounds the MACs a vxlan port learns, as the hub's own table
	// is bounded: a new MAC past it pushes out the least recently seen.
	fdbSize = hub.DefaultMaxMACs
	// DefaultVXLANSilence is how long a remote VTEP that has been heard
	// may send nothing before the port logs it (VXLANConfig.Silence).
	DefaultVXLANSilence = 30 * time.Second
	// selfRefresh is how often a port bound to every address lists its
	// namespace's addresses again (one netlink dump), so that an address
	// that arrives after open (DHCP, a VIP moving in) is known as its own
	// within seconds.
	selfRefresh = 5 * time.Second
)

// parseVTEP's refusals of an address that is no one VTEP, the same with
// or without a port: each says what to give instead.
var (
	// 255.255.255.255: a socket may not send to it without SO_BROADCAST,
	// so every flood would fail.
	errBroadcastVTEP = errors.New("the broadcast address is no VTEP (use group= for a multicast overlay)")
	// A group: its members' unicast replies come from their own
	// addresses, which no remote= names, and are dropped (foreign-source).
	errMulticastVTEP = errors.New("a multicast address is no VTEP: for a multicast overlay give it as group= instead of remote=")
	// 0.0.0.0: the datagrams would go to this host, to the port itself.
	errUnspecifiedVTEP = errors.New("the unspecified address is no VTEP (a datagram sent there comes back to this host): give the remote VTEP's own address")
)

// vtepRefusals are parseVTEP's errors that say what to fix, as opposed to
// text that is no address at all.
var vtepRefusals = []error{errBroadcastVTEP, errMulticastVTEP, errUnspecifiedVTEP}

// parseVTEP parses "IP" or "IP:PORT" (port defaulting to def), an IPv4
// unicast address (an IPv4-mapped one is unmapped).
func parseVTEP(s string, def uint16) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err == nil {
		if ap.Port() == 0 || !ap.Addr().Unmap().Is4() {
			return netip.AddrPort{}, fmt.Errorf("vtep %q: want an IPv4 address and a port", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Unmap().Is4() {
			return netip.AddrPort{}, fmt.Errorf("vtep %q: want an IPv4 address", s)
		}
		ap = netip.AddrPortFrom(a, def)
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if err := checkRemoteVTEP(ap.Addr()); err != nil {
		return netip.AddrPort{}, fmt.Errorf("vtep %q: %w", s, err)
	}
	return ap, nil
}

// checkRemoteVTEP returns why IPv4 address a cannot be a remote VTEP (one
// of vtepRefusals), or nil.
func checkRemoteVTEP(a netip.Addr) error {
	switch {
	case a.IsMulticast():
		return errMulticastVTEP
	case a.IsUnspecified():
		return errUnspecifiedVTEP
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errBroadcastVTEP
	}
	return nil
}

// checkLocalVTEP returns why IPv4 address a cannot be a port's local
// address, or nil: a socket bound to a group's address (or the broadcast
// address) sends from it, which no VTEP takes as a source, and, having
// joined nothing, receives nothing.
func checkLocalVTEP(a netip.Addr) error {
	switch {
	case a.IsMulticast():
		return errors.New("a multicast address is no local address: bind this host's own address (or 0.0.0.0) and give the group as group=")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address is no local address: bind this host's own address (or 0.0.0.0)")
	}
	return nil
}

// VXLANConfig configures a VXLANConn.
type VXLANConfig struct {
	// Local is the address and UDP port the VTEP binds (the remotes send
	// to it). Every datagram leaves from it, not from the per-flow source
	// port RFC 7348 §5 recommends for the underlay's ECMP and RSS (README).
	Local netip.AddrPort
	VNI   uint32
	// Remotes are the other VTEPs: broadcast, multicast and unknown
	// unicast go to each (head-end replication), and only datagrams from
	// them are accepted. Ports default to Local's. Several may share an
	// IP (hubs on one host): a datagram is then told to be a remote's by
	// its source port.
	Remotes []netip.AddrPort
	// Group, instead of Remotes, is an IPv4 multicast group every VTEP of
	// the overlay joins, as the kernel's `vxlan ... group` does: flooded
	// frames go to it, and any sender is read (the socket takes its UDP
	// port on every address, so not only the group's members reach it).
	Group netip.Addr
	// TTL, when not 0, is the outer IP time to live, unicast and
	// multicast (the kernel's vxlan ttl). 0 leaves the system's: 1 for a
	// group's datagrams, which then stay on their link.
	TTL int
	// MTU is the underlay's; inner frames longer than MTU-36 bytes are
	// refused (counted), never fragmented. 0 means 1500.
	MTU int
	// Netns, if set, is the network namespace (name or path) to bind in.
	// It must exist: unlike a TAP device's, it is never created.
	Netns string
	// SocketBuffer sizes the socket's buffers (0: DefaultSocketBuffer).
	SocketBuffer int
	// Clock is what the learning table ages on and remotes' silence is
	// timed by; nil: the wall clock.
	Clock hub.Clock
	// Aging is how long the port remembers the VTEP a MAC was seen behind
	// without a frame from it: the hub's aging time (serve --aging). 0
	// means hub.DefaultAgingTime.
	Aging time.Duration
	// Silence is how long a remote VTEP that has sent something may then
	// send nothing before the port logs it, once ("remote VTEP 10.0.0.2:
	// nothing heard for 30s"), and again when it is heard from. A quiet
	// remote is normal when its side has nothing to send (though a kernel
	// VTEP or an OVS bridge with hosts on it seldom stays quiet for long);
	// it is also what a remote that has gone away looks like, since its
	// ICMP errors are not reported (see send). 0 means
	// DefaultVXLANSilence; negative, never. Only remotes are watched, not
	// a group's members.
	Silence time.Duration
	// Logger receives those lines; nil discards.
	Logger *slog.Logger

	// port, set for a port opened from a Spec, names it to the tap ports
	// of this process (mtuPeers).
	port string
}

// VXLANConn is a hub port on a VXLAN overlay: a VTEP. Reading decapsulates
// what the other VTEPs send for its VNI and learns which VTEP each source
// MAC sits behind; writing encapsulates a frame and sends it to the VTEP
// its destination was learned on, or, for broadcast, multicast and unknown
// unicast, to every remote (or the group). A datagram that is not a usable
// frame is discarded as an error wrapping a *hub.FrameError, which names
// its sender: from a stranger (DropForeign), too short or without the I
// flag (DropEncap), for another VNI (DropVNI), an inner runt or oversized
// frame (DropRunt, DropOversize), one the port sent itself (DropOwnEcho).
//
// Ports of one overlay are one split-horizon group (Spec.PortOptions): the
// hub never forwards between them, as a full-mesh overlay needs.
type VXLANConn struct {
	c       *net.UDPConn
	cfg     VXLANConfig
	vni     [3]byte
	max     int // largest inner frame
	desc    string
	closed  atomic.Bool
	flood   []netip.AddrPort      // where flooded frames go: the remotes, or the group
	origins map[netip.Addr]string // frame comments of senders that are no one remote (see origin)
	drops   kernelDrops

	// remotes holds each remote VTEP's counters by its address, and byIP
	// by its IP, nil for an IP that several remotes share (see remoteOf);
	// order is the configured order. All are fixed at open.
	remotes  map[netip.AddrPort]*remoteState
	byIP     map[netip.Addr]*remoteState
	order    []*remoteState
	remoteMu sync.Mutex // guards each remoteState's rx, last and quiet
	watchMu  sync.Mutex // guards watch and refresh against Close
	watch    hub.Timer  // checks for remotes gone quiet; nil if none are watched
	refresh  hub.Timer  // lists self again; nil if it is not listed

	// bound is the socket's address; wildcard says it takes its port on
	// every address (0.0.0.0, or a group's), each of self (see own): the
	// namespace's addresses, listed at open and every selfRefresh from
	// addrs (nil: never listed; bound to one address, or no source opened).
	bound    netip.AddrPort
	wildcard bool
	self     atomic.Pointer[map[netip.Addr]bool]
	addrsMu  sync.Mutex // guards addrs against Close
	addrs    addrSource
	// Only the refresh touches these: whether the last listing failed,
	// and the remotes it found to be this port's own.
	listFailed bool
	ownRemotes map[netip.AddrPort]bool

	fdb *fdb

	// Reader and writer scratch.
	rbuf, roob []byte
	wbuf       []byte
	ns         func() error // releases the network namespace, if one was opened
	unpeer     func()       // leaves mtuPeers
}

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

var (
	_ hub.PortIO        = (*VXLANConn)(nil)
	_ hub.Describer     = (*VXLANConn)(nil)
	_ hub.KernelDropper = (*VXLANConn)(nil)
	_ hub.RemoteLister  = (*VXLANConn)(nil)
	_ hub.Learner       = (*VXLANConn)(nil)
)

// OpenVXLAN binds a VTEP as cfg says.
func OpenVXLAN(cfg VXLANConfig) (*VXLANConn, error) {
	if cfg.VNI > maxVNI {
		return nil, fmt.Errorf("vxlan: VNI %d above %d", cfg.VNI, maxVNI)
	}
	if len(cfg.Remotes) == 0 && !cfg.Group.IsValid() {
		return nil, errors.New("vxlan: no remote VTEP and no group")
	}
	if len(cfg.Remotes) > 0 && cfg.Group.IsValid() {
		return nil, errors.New("vxlan: remote VTEPs and a group: one or the other, not both")
	}
	cfg.Local = netip.AddrPortFrom(cfg.Local.Addr().Unmap(), cfg.Local.Port())
	if !cfg.Local.Addr().Is4() {
		return nil, fmt.Errorf("vxlan: local address %s: want an IPv4 address", cfg.Local)
	}
	if err := checkLocalVTEP(cfg.Local.Addr()); err != nil {
		return nil, fmt.Errorf("vxlan: local address %s: %w", cfg.Local, err)
	}
	remotes := make([]netip.AddrPort, len(cfg.Remotes)) // unmapped: as datagrams' sources are
	for i, r := range cfg.Remotes {
		remotes[i] = netip.AddrPortFrom(r.Addr().Unmap(), r.Port())
		if !remotes[i].Addr().Is4() || r.Port() == 0 {
			return nil, fmt.Errorf("vxlan: remote %s: want an IPv4 address and a port", r)
		}
		if err := checkRemoteVTEP(remotes[i].Addr()); err != nil {
			return nil, fmt.Errorf("vxlan: remote %s: %w", r, err)
		}
		if slices.Contains(remotes[:i], remotes[i]) {
			return nil, fmt.Errorf("vxlan: remote %s twice: every flood would reach it twice", remotes[i])
		}
	}
	cfg.Remotes = remotes
	if cfg.Group.IsValid() && (!cfg.Group.Unmap().Is4() || !cfg.Group.IsMulticast()) {
		return nil, fmt.Errorf("vxlan: group %s: want an IPv4 multicast group", cfg.Group)
	}
	cfg.Group = cfg.Group.Unmap()
	if cfg.MTU == 0 {
		cfg.MTU = defaultVXLANMTU
	}
	if cfg.MTU < minVXLANMTU || cfg.MTU > maxVXLANMTU {
		return nil, fmt.Errorf("vxlan: MTU %d outside %d..%d", cfg.MTU, minVXLANMTU, maxVXLANMTU)
	}
	if cfg.Clock == nil {
		cfg.Clock = wallclock.Clock{}
	}
	if cfg.Silence == 0 {
		cfg.Silence = DefaultVXLANSilence
	}
	if cfg.Aging <= 0 {
		cfg.Aging = hub.DefaultAgingTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	v := &VXLANConn{
		cfg:     cfg,
		max:     cfg.MTU - vxlanOverhead,
		origins: map[netip.Addr]string{},
		fdb:     newFDB(fdbSize, cfg.Aging, cfg.Clock, newLimiter(cfg.Clock, logEvery)),
		remotes: map[netip.AddrPort]*remoteState{},
		byIP:    map[netip.Addr]*remoteState{},
	}
	v.vni = [3]byte{byte(cfg.VNI >> 16), byte(cfg.VNI >> 8), byte(cfg.VNI)}
	v.rbuf = make([]byte, vxlanHeaderLen+v.max+1)
	v.roob = make([]byte, 64)
	v.wbuf = make([]byte, vxlanHeaderLen+v.max)
	if cfg.Group.IsValid() {
		v.flood = []netip.AddrPort{netip.AddrPortFrom(cfg.Group, cfg.Local.Port())}
	} else {
		v.flood = cfg.Remotes
		v.addRemotes(cfg.Remotes)
	}
	c, release, addrs, err := openVXLANSocket(cfg)
	if err != nil {
		return nil, err
	}
	v.c, v.ns, v.addrs = c, release, addrs
	if rc, err := c.SyscallConn(); err == nil {
		v.drops.sock.init(rc)
	}
	if err := v.setSelf(); err != nil {
		v.c.Close()
		if v.addrs != nil {
			v.addrs.close()
		}
		if v.ns != nil {
			v.ns()
		}
		return nil, err
	}
	where := "to " + joinAddrPorts(cfg.Remotes)
	if cfg.Group.IsValid() {
		where = "group " + cfg.Group.String()
	}
	v.desc = fmt.Sprintf("vxlan %s vni %d %s", cfg.Local, cfg.VNI, where)
	if cfg.Netns != "" {
		v.desc += " in netns " + cfg.Netns
	}
	if cfg.port != "" {
		v.unpeer = mtuPeers.join(&mtuPeer{port: cfg.port, vxlan: true, mtu: cfg.MTU - VXLANGuestMTUOverhead, log: cfg.Logger})
	}
	v.watchMu.Lock()
	if len(v.remotes) > 0 && cfg.Silence > 0 {
		v.watch = cfg.Clock.AfterFunc(cfg.Silence, v.checkQuiet)
	}
	if v.addrs != nil {
		v.refresh = cfg.Clock.AfterFunc(selfRefresh, v.refreshSelf)
	}
	v.watchMu.Unlock()
	return v, nil
}

// setSelf notes the socket's address and, bound to every address, the
// namespace's (self), and refuses a remote that is this port itself.
// Bound to one address, that is only that address; bound to every
// address, it is any of self or of 127.0.0.0/8 (all of which loopback
// answers) at the port's UDP port, such as a remote list shared by every
// host with this host's own address in it: the port would read back each
// datagram it sent there, deliver its own floods to its own VMs again, and
// learn their MACs on the overlay. A port that cannot list the addresses
// (netlink denied, as in some containers) still opens, saying what it
// does not know.
func (v *VXLANConn) setSelf() error {
	ap := v.c.LocalAddr().(*net.UDPAddr).AddrPort()
	v.bound = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	v.wildcard = v.bound.Addr().IsUnspecified()
	v.self.Store(&map[netip.Addr]bool{})
	if v.addrs != nil {
		if err := v.listSelf(); err != nil {
			v.cfg.Logger.Warn(fmt.Sprintf("vxlan %s: cannot list %s addresses (%v): the port knows its own datagrams only by its UDP port on loopback (127.0.0.0/8), and cannot refuse a remote= that is another of them", v.cfg.Local, v.host(), err))
			if _, broken := v.addrs.(brokenAddrs); broken {
				v.addrs = nil // nothing to list again
			} else {
				v.listFailed = true
			}
		}
	}
	for _, r := range v.order {
		switch {
		case r.ap == v.bound:
			return fmt.Errorf("vxlan %s: remote %s is this port's own address: it would read back every datagram it sends there; name only the other VTEPs", v.cfg.Local, r.ap)
		case v.own(r.ap):
			return fmt.Errorf("vxlan %s: remote %s is %s own address at the port's UDP port: bound to every address, the port would read back every datagram it sends there and take its own VMs' frames for the overlay's; name only the other VTEPs (leave this host out of a remote list shared by every host), or bind the port to one address", v.cfg.Local, r.ap, v.host())
		}
	}
	return nil
}

// host names whose addresses self holds: "this host's", or a network
// namespace's.
func (v *VXLANConn) host() string {
	if v.cfg.Netns != "" {
		return "network namespace " + v.cfg.Netns + "'s"
	}
	return "this host's"
}

// listSelf lists the namespace's addresses into self; on an error, self
// is left as it was.
func (v *VXLANConn) listSelf() error {
	v.addrsMu.Lock()
	if v.addrs == nil {
		v.addrsMu.Unlock()
		return net.ErrClosed
	}
	addrs, err := v.addrs.addrs()
	v.addrsMu.Unlock()
	if err != nil {
		return err
	}
	self := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		self[a] = true
	}
	v.self.Store(&self)
	return nil
}

// refreshSelf lists self again, every selfRefresh, on the port's clock.
// A listing that fails keeps the last list (logged at warn when it starts
// failing, at info when it works again). Each remote that has become one
// of the addresses since is logged at warn: the port now drops what comes
// from it as its own echo (own-echo), its floods there come back to it.
func (v *VXLANConn) refreshSelf() {
	switch err := v.listSelf(); {
	case errors.Is(err, net.ErrClosed):
		return
	case err != nil:
		if !v.listFailed {
			v.cfg.Logger.Warn(fmt.Sprintf("vxlan %s: cannot list %s addresses again (%v): those added since are not known as the port's own; trying again every %v", v.cfg.Local, v.host(), err, selfRefresh))
		}
		v.listFailed = true
	default:
		if v.listFailed {
			v.cfg.Logger.Info(fmt.Sprintf("vxlan %s: %s addresses listed again", v.cfg.Local, v.host()))
		}
		v.listFailed = false
		for _, r := range v.order {
			switch own := v.own(r.ap); {
			case own && !v.ownRemotes[r.ap]:
				v.cfg.Logger.Warn(fmt.Sprintf("remote VTEP %s is now %s own address at the port's UDP port: what the port sends there comes back to it and is dropped (own-echo); leave it out of remote= here, or bind the port to one address", r.name, v.host()),
					"remote", r.name)
				if v.ownRemotes == nil {
					v.ownRemotes = map[netip.AddrPort]bool{}
				}
				v.ownRemotes[r.ap] = true
			case !own:
				delete(v.ownRemotes, r.ap)
			}
		}
	}
	v.watchMu.Lock()
	defer v.watchMu.Unlock()
	if !v.closed.Load() {
		v.refresh.Reset(selfRefresh)
	}
}

// own reports whether a datagram from src was sent by this port's own
// socket: from its address, or, bound to every address, from its UDP port
// at an address of this host's (self, as last listed, or loopback). The
// kernel's vxlan device drops its own datagrams too.
func (v *VXLANConn) own(src netip.AddrPort) bool {
	switch {
	case src == v.bound:
		return true
	case !v.wildcard || src.Port() != v.bound.Port():
		return false
	}
	return src.Addr().IsLoopback() || (*v.self.Load())[src.Addr()]
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

// Learning implements hub.Learner: the port's learning table now. Safe
// to call while the port runs, and after Close.
func (v *VXLANConn) Learning() hub.LearningStatus {
	n, evicted, moves := v.fdb.stats()
	return hub.LearningStatus{Entries: n, Size: v.fdb.size, Evicted: evicted, Moves: moves}
}

func joinAddrPorts(as []netip.AddrPort) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
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

// KernelDrops implements hub.KernelDropper: the datagrams the kernel has
// dropped at the port's socket because its receive buffer was full, read
// from the socket at the call on Linux (as DatagramConn.KernelDrops), and
// once more as the port closes. Safe for concurrent use with ReadFrames.
func (v *VXLANConn) KernelDrops() uint64 { return v.drops.now() }

// MaxFrame returns the longest inner frame the port carries.
func (v *VXLANConn) MaxFrame() int { return v.max }

// LocalAddr returns the address the socket is bound to.
func (v *VXLANConn) LocalAddr() net.Addr { return v.c.LocalAddr() }

// Describe says what the port is ("vxlan 10.0.0.1:4789 vni 42 to ...").
func (v *VXLANConn) Describe() string { return v.desc }

// Close closes the socket and releases the namespace it was opened in.
func (v *VXLANConn) Close() error {
	if !v.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	v.watchMu.Lock()
	if v.watch != nil {
		v.watch.Stop()
	}
	if v.refresh != nil {
		v.refresh.Stop()
	}
	v.watchMu.Unlock()
	v.addrsMu.Lock()
	if v.addrs != nil {
		v.addrs.close()
		v.addrs = nil
	}
	v.addrsMu.Unlock()
	if v.unpeer != nil {
		v.unpeer()
	}
	v.drops.now() // the last count: KernelDrops reports it from now on
	err := v.c.Close()
	if v.ns != nil {
		err = errors.Join(err, v.ns())
	}
	return err
}

// vxlanConfigOf builds a VXLANConfig from a valid vxlan spec.
func vxlanConfigOf(s Spec, opts Options) (VXLANConfig, error) {
	local, err := netip.ParseAddrPort(s.Address)
	if err != nil {
		return VXLANConfig{}, err
	}
	cfg := VXLANConfig{
		Local:        netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		Netns:        s.Options["netns"],
		SocketBuffer: s.socketBuffer(),
		Clock:        opts.Clock,
		Aging:        opts.Aging,
		Logger:       opts.Logger,
		port:         s.Name,
	}
	if cfg.Logger != nil {
		cfg.Logger = cfg.Logger.With("port", s.Name, "transport", string(s.Transport))
	}
	switch q := s.Options["silence"]; q {
	case "":
	case "off":
		cfg.Silence = -1
	default:
		cfg.Silence, _ = time.ParseDuration(q)
	}
	vni, _ := strconv.ParseUint(s.Options["vni"], 10, 32)
	cfg.VNI = uint32(vni)
	for _, r := range s.Options.Values("remote") {
		ap, err := parseVTEP(r, local.Port())
		if err != nil {
			return cfg, err
		}
		cfg.Remotes = append(cfg.Remotes, ap)
	}
	if g, ok := s.Options["group"]; ok {
		cfg.Group = netip.MustParseAddr(g)
	}
	if m, ok := s.Options["mtu"]; ok {
		cfg.MTU, _ = strconv.Atoi(m)
	}
	if t, ok := s.Options["ttl"]; ok {
		cfg.TTL, _ = strconv.Atoi(t)
	}
	return cfg, nil
}

// mtuPeers holds this process's open tap and vxlan ports, so that a TAP
// device whose MTU is more than a VXLAN port carries is warned of, in
// whichever order the two open: the hub creates a TAP device at 1500, and
// on a segment with a VXLAN port on a 1500-byte underlay the host's frames
// past 1464 bytes would be dropped (oversize), with TCP stalling.
var mtuPeers mtuPeerSet

type mtuPeerSet struct {
	mu    sync.Mutex
	peers map[*mtuPeer]bool
}

// mtuPeer is one open port: a TAP device (its MTU) or a VXLAN port (the
// MTU its segment's hosts need, 50 bytes under the underlay's).
type mtuPeer struct {
	port     string
	vxlan    bool
	mtu      int
	device   string // a TAP device's name
	givenMTU bool   // the tap port has mtu=
	log      *slog.Logger
}

// join adds p, warning on p's log of each TAP device, p or one already
// open, whose MTU is above a VXLAN port's, and returns how p leaves.
func (s *mtuPeerSet) join(p *mtuPeer) (leave func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peers == nil {
		s.peers = map[*mtuPeer]bool{}
	}
	for q := range s.peers {
		if q.vxlan == p.vxlan {
			continue
		}
		t, x := p, q
		if p.vxlan {
			t, x = q, p
		}
		if t.mtu <= x.mtu {
			continue
		}
		how := fmt.Sprintf("give the tap port mtu=%d, or `ip link set %s mtu %d`", x.mtu, t.device, x.mtu)
		if t.givenMTU {
			how = fmt.Sprintf("lower its mtu= to %d", x.mtu)
		}
		p.log.Warn(fmt.Sprintf("TAP device %s (port %q) has MTU %d, more than the %d that VXLAN port %q carries: the host's frames over %d bytes will be dropped there (oversize) and its TCP connections may stall; %s",
			t.device, t.port, t.mtu, x.mtu, x.port, x.mtu+hub.EthHeaderLen, how))
	}
	s.peers[p] = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.peers, p)
	}
}

// An addrSource lists the IPv4 addresses of the network namespace a port
// bound to every address was opened in (see own). It is called from the
// port's refresh, one call at a time, and closed once.
type addrSource interface {
	addrs() ([]netip.Addr, error)
	close()
}

// openAddrSource opens the system's addrSource for the calling thread's
// network namespace (a port's, while it binds). Tests stand in for it.
var openAddrSource = openSystemAddrSource

// brokenAddrs is the addrSource of a port whose source could not open:
// its listing fails, saying why.
type brokenAddrs struct{ err error }

func (b brokenAddrs) addrs() ([]netip.Addr, error) { return nil, b.err }
func (brokenAddrs) close()                         {}

// bindsEveryAddress says whether cfg's socket takes its UDP port on
// every address (0.0.0.0, or a group's), so that own needs the host's.
func bindsEveryAddress(cfg VXLANConfig) bool {
	return cfg.Local.Addr().IsUnspecified() || cfg.Group.IsValid()
}

// openAddrs is openAddrSource for a port bound as cfg says: none for one
// bound to one address, which never needs the list; a brokenAddrs when it
// cannot open, since a port that cannot list addresses still opens.
func openAddrs(cfg VXLANConfig) addrSource {
	if !bindsEveryAddress(cfg) {
		return nil
	}
	a, err := openAddrSource()
	if err != nil {
		return brokenAddrs{err}
	}
	return a
}

// ipv4s returns the IPv4 addresses among ips.
func ipv4s(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, b := range ips {
		if ip, ok := netip.AddrFromSlice(b); ok && ip.Unmap().Is4() {
			out = append(out, ip.Unmap())
		}
	}
	return out
}
