package transport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// A vxlan port is a VTEP. This file holds VXLANConn, OpenVXLAN and Close;
// vxlan_config.go what a port is told, vxlan_frames.go its frame path,
// vxlan_fdb.go its learning table, vxlan_remotes.go the remote VTEPs,
// vxlan_self.go how it knows its own datagrams, and vxlan_linux.go its
// socket.

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
