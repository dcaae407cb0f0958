//go:build linux

package tap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"l2hub/hub"
)

// TUNPath is the kernel's TUN/TAP clone device.
const TUNPath = "/dev/net/tun"

// tapReadMax is the longest frame a TAP device can hand over: the largest
// MTU Linux allows (ETH_MAX_MTU, 65535) plus an Ethernet header and one
// 802.1Q tag. ReadFrame reads with a buffer at least this long, so that a
// frame is never cut short unseen.
const tapReadMax = 65535 + 14 + 4

// netAdminHint says how to get the privilege TAP devices and netlink need.
const netAdminHint = "run as root or grant CAP_NET_ADMIN (setcap cap_net_admin+ep $(which l2hub))"

// TAPConfig describes a host TAP device for OpenTAP.
type TAPConfig struct {
	// Name is the interface name (1-15 bytes). A persistent TAP device of
	// that name (`ip tuntap add mode tap`) is opened; with none, one is
	// created.
	Name string
	// MAC, when set, becomes the device's Ethernet address (unicast).
	MAC net.HardwareAddr
	// MACIsDefault says MAC is a default, not asked for: a device that
	// existed, which its owner attaches without CAP_NET_ADMIN (`ip tuntap
	// add DEV mode tap user USER`), then keeps its own, and Logger hears
	// so. An asked-for MAC that cannot be set is an error.
	MACIsDefault bool
	// Addr, when valid, is an IPv4 address and prefix given to the device.
	Addr netip.Prefix
	// Netns is where the device lives: "" is the calling thread's network
	// namespace; a name is NetnsDir/NAME, created if missing; a path (it
	// holds a '/') is a namespace file such as /proc/PID/ns/net, never
	// created.
	Netns string
	// MaxFrame is the largest frame in either direction; 0 means
	// hub.DefaultMaxFrame.
	MaxFrame int
	// MTU, when not 0, becomes the device's MTU (MinMTU..MaxMTU, and its
	// frames, 14 bytes more, no longer than MaxFrame); 0 leaves it as it
	// is (1500 for a device OpenTAP creates).
	MTU int
	// MTUIsDefault says MTU is a default, not asked for (the one a VXLAN
	// port of the hub implies): a device that existed, which its owner
	// attaches without CAP_NET_ADMIN, then keeps its own, and Logger is
	// warned so. An asked-for MTU that cannot be set is an error.
	MTUIsDefault bool
	// Logger hears what Close leaves behind and why (a namespace OpenTAP
	// created that others now use), and what OpenTAP may not change on a
	// device that existed (its MAC, its link state); nil discards.
	Logger *slog.Logger
}

// TAPDevice is a host TAP interface (IFF_TAP, IFF_NO_PI) as a hub port:
// the kernel's side of the wire. ReadFrame returns the Ethernet frames the
// host sends out of the interface, WriteFrame delivers frames to the host
// as if they had arrived on it.
//
// OpenTAP sets the device up; Close undoes it all. A device OpenTAP created
// disappears (it is not persistent), and so does a namespace it created once
// no other port of this process uses it, unless its name refers to another
// namespace by then or it holds interfaces it did not have when created
// (another hub's): that is logged on TAPConfig.Logger. A device that existed before is
// left as it was found: the address OpenTAP added is removed, its MAC
// restored and it is set down again if OpenTAP brought it up.
//
// ReadFrame returns a frame longer than buf or than the maximum frame as a
// *hub.FrameError (DropOversize). WriteFrame refuses a frame outside
// 1..maximum with an error wrapping hub.ErrFrameTooLarge, and reports as a
// *hub.FrameError, the device remaining usable, a runt (DropRunt), a frame
// sent while the host has the interface down (DropDown) and any other frame
// the kernel refuses (DropWrite, wrapping the system error). A device
// deleted under the hub (`ip link del`) is a fatal read or write error;
// Close then has nothing to restore, and creates nothing in its place.
type TAPDevice struct {
	name     string
	desc     string
	mac      net.HardwareAddr
	mtu      int
	maxFrame int
	f        *os.File // non-blocking, in the runtime's poller: Close unblocks Read
	index    int
	nl       *netlink.Handle // in the device's namespace
	ns       *netnsRef       // nil: the caller's namespace
	undo     tapUndo
	rbuf     []byte // the reader's own buffer when the caller's is short
	closed   atomic.Bool
	drops    kernelDrops
}

var (
	_ hub.PortIO        = (*TAPDevice)(nil)
	_ hub.KernelDropper = (*TAPDevice)(nil)
)

// tapUndo is what Close must undo on a device that existed before.
type tapUndo struct {
	existed bool
	mac     net.HardwareAddr // the MAC to restore, or nil
	mtu     int              // the MTU to restore, or 0
	addr    *netlink.Addr    // the address to remove, or nil
	down    bool             // set the link down again
	flags   uint16           // TUNSETIFF flags that restore its features (vnet header)
}

// OpenTAP creates or opens the TAP device cfg names, in cfg.Netns, and gives
// it cfg.MAC and cfg.Addr and brings it up. Errors say what is missing and
// how to grant it (CAP_NET_ADMIN, /dev/net/tun, CAP_SYS_ADMIN for a
// namespace). Without Netns the device is made in the calling thread's
// network namespace.
func OpenTAP(cfg TAPConfig) (_ *TAPDevice, err error) {
	if err := CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("TAP device %q: %v", cfg.Name, err)
	}
	if cfg.MAC != nil && (len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 || bytes.Equal(cfg.MAC, make([]byte, 6))) {
		return nil, fmt.Errorf("TAP device %s: MAC %v: want a unicast Ethernet address", cfg.Name, cfg.MAC)
	}
	if cfg.Addr.IsValid() && !cfg.Addr.Addr().Is4() {
		return nil, fmt.Errorf("TAP device %s: address %v: want IPv4", cfg.Name, cfg.Addr)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = hub.DefaultMaxFrame
	}
	if cfg.MaxFrame < hub.EthHeaderLen || cfg.MaxFrame > hub.MaxFrameLimit {
		return nil, fmt.Errorf("TAP device %s: maximum frame %d outside %d..%d", cfg.Name, cfg.MaxFrame, hub.EthHeaderLen, hub.MaxFrameLimit)
	}
	if cfg.MTU != 0 && (cfg.MTU < MinMTU || cfg.MTU > MaxMTU) {
		return nil, fmt.Errorf("TAP device %s: MTU %d outside %d..%d", cfg.Name, cfg.MTU, MinMTU, MaxMTU)
	}
	if cfg.MTU+hub.EthHeaderLen > cfg.MaxFrame {
		return nil, fmt.Errorf("TAP device %s: MTU %d makes frames of %d bytes, longer than the maximum frame %d", cfg.Name, cfg.MTU, cfg.MTU+hub.EthHeaderLen, cfg.MaxFrame)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &TAPDevice{name: cfg.Name, maxFrame: cfg.MaxFrame}
	defer func() {
		if err != nil {
			d.teardown()
			err = fmt.Errorf("TAP device %s%s: %w", cfg.Name, inNetnsText(cfg.Netns), err)
		}
	}()

	if cfg.Netns != "" {
		if d.ns, err = acquireNetns(cfg.Netns, true, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if d.nl, err = netlinkIn(d.ns); err != nil {
		return nil, err
	}
	if d.ns != nil && d.ns.created {
		// Unlike `ip netns add`, give programs run in the new namespace a
		// working loopback.
		if lo, err := d.nl.LinkByName("lo"); err == nil && lo.Attrs().Flags&net.FlagUp == 0 {
			if err := d.nl.LinkSetUp(lo); err != nil {
				return nil, netAdminError("set lo up in the new namespace", err)
			}
		}
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	old, err := d.nl.LinkByName(cfg.Name)
	var notFound netlink.LinkNotFoundError
	switch {
	case err == nil:
		tt, err := reusableTAP(old)
		if err != nil {
			return nil, err
		}
		d.undo.existed = true
		if tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 {
			flags |= unix.IFF_MULTI_QUEUE // the kernel refuses a mismatch
		}
		if f := tunFlags(tt); f != flags {
			d.undo.flags = f
		}
	case errors.As(err, &notFound):
	default:
		return nil, fmt.Errorf("look up the interface: %w", err)
	}

	attach := func() (err error) {
		d.f, err = attachTAP(cfg.Name, flags)
		return err
	}
	if d.ns != nil {
		err = inNetns(d.ns.h, attach)
	} else {
		err = attach()
	}
	if err != nil {
		return nil, err
	}

	link, err := d.nl.LinkByName(cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("look up the new interface: %w", err)
	}
	attrs := link.Attrs()
	d.index = attrs.Index
	d.mac = slices.Clone(attrs.HardwareAddr)
	if cfg.MAC != nil && !bytes.Equal(attrs.HardwareAddr, cfg.MAC) {
		switch err := d.nl.LinkSetHardwareAddr(link, cfg.MAC); {
		case err == nil:
			if d.undo.existed {
				d.undo.mac = slices.Clone(attrs.HardwareAddr)
			}
			d.mac = slices.Clone(cfg.MAC)
		case d.undo.existed && cfg.MACIsDefault && errors.Is(err, fs.ErrPermission):
			log.Info(fmt.Sprintf("TAP device %s keeps its own MAC %s: l2hub may not set its default %s (%v; it lacks CAP_NET_ADMIN)", cfg.Name, attrs.HardwareAddr, cfg.MAC, err))
		default:
			return nil, ownerError(netAdminError("set MAC "+cfg.MAC.String(), err), d.undo.existed, cfg.Name)
		}
	}
	d.mtu = attrs.MTU
	if cfg.MTU != 0 && attrs.MTU != cfg.MTU {
		switch err := d.nl.LinkSetMTU(link, cfg.MTU); {
		case err == nil:
			if d.undo.existed {
				d.undo.mtu = attrs.MTU
			}
			d.mtu = cfg.MTU
		case d.undo.existed && cfg.MTUIsDefault && errors.Is(err, fs.ErrPermission):
			log.Warn(fmt.Sprintf("TAP device %s keeps its own MTU %d: l2hub may not set its default %d (%v; it lacks CAP_NET_ADMIN): ip link set %s mtu %d", cfg.Name, attrs.MTU, cfg.MTU, err, cfg.Name, cfg.MTU))
		default:
			return nil, netAdminError(fmt.Sprintf("set MTU %d", cfg.MTU), err)
		}
	}
	if cfg.Addr.IsValid() {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: cfg.Addr.Addr().AsSlice(), Mask: net.CIDRMask(cfg.Addr.Bits(), 32)}}
		switch err := d.nl.AddrAdd(link, a); {
		case err == nil:
			if d.undo.existed {
				d.undo.addr = a
			}
		case errors.Is(err, unix.EEXIST): // it was there before: leave it
		default:
			return nil, netAdminError("add address "+cfg.Addr.String(), err)
		}
	}
	if attrs.Flags&net.FlagUp == 0 {
		switch err := d.nl.LinkSetUp(link); {
		case err == nil:
			d.undo.down = d.undo.existed
		case d.undo.existed && errors.Is(err, fs.ErrPermission):
			// Its owner attached without CAP_NET_ADMIN: the device
			// works once the administrator sets it up.
			log.Warn(fmt.Sprintf("TAP device %s is down and l2hub may not set it up (%v; it lacks CAP_NET_ADMIN): the host sends nothing and frames to it are dropped (port-down) until it is up: ip link set %s up", cfg.Name, err, cfg.Name))
		default:
			return nil, netAdminError("set the link up", err)
		}
	}

	d.desc = "tap " + cfg.Name + inNetnsText(cfg.Netns) + " " + d.mac.String()
	if cfg.Addr.IsValid() {
		d.desc += " " + cfg.Addr.String()
	}
	if cfg.MTU != 0 {
		d.desc += fmt.Sprintf(" mtu %d", d.mtu)
	}
	return d, nil
}

func inNetnsText(ns string) string {
	if ns == "" {
		return ""
	}
	return " in netns " + ns
}

// reusableTAP checks that an existing interface is a TAP device this
// process can attach to.
func reusableTAP(l netlink.Link) (*netlink.Tuntap, error) {
	tt, ok := l.(*netlink.Tuntap)
	if !ok {
		return nil, fmt.Errorf("the interface exists and is not a TAP device (its type is %q): choose another name", l.Type())
	}
	if tt.Mode == netlink.TUNTAP_MODE_TUN {
		return nil, errors.New("the interface is a TUN device (IP packets); the hub needs a TAP device (Ethernet frames): choose another name or `ip tuntap del` it")
	}
	if tt.NonPersist || (tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 && tt.Queues > 0) {
		return nil, errors.New("the TAP device is in use by another program (QEMU?): a TAP device has one user at a time")
	}
	return tt, nil
}

// attachTAP opens TUNPath and attaches the descriptor to the TAP device
// name with flags (IFF_TAP, IFF_NO_PI and, for a multi-queue device,
// IFF_MULTI_QUEUE), creating the device in the calling thread's network
// namespace when it does not exist. The descriptor is close-on-exec, so
// that no child process (a VM lab starts, a program that embeds this
// package and forks) holds the device, and it is closed on every failure.
// The file is non-blocking, in the runtime's poller.
func attachTAP(name string, flags uint16) (*os.File, error) {
	fd, err := unix.Open(TUNPath, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, tunError(&fs.PathError{Op: "open", Path: TUNPath, Err: err})
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(flags)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, tunError(os.NewSyscallError("ioctl", err))
	}
	return os.NewFile(uintptr(fd), TUNPath), nil
}

// tunFlags returns the TUNSETIFF flags that give a persistent device tt
// back the features it has (a vnet header, packet information), which an
// attach replaces with its own.
func tunFlags(tt *netlink.Tuntap) uint16 {
	flags := uint16(unix.IFF_TAP)
	if tt.Flags&netlink.TUNTAP_NO_PI != 0 {
		flags |= unix.IFF_NO_PI
	}
	if tt.Flags&netlink.TUNTAP_VNET_HDR != 0 {
		flags |= unix.IFF_VNET_HDR
	}
	if tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 {
		flags |= unix.IFF_MULTI_QUEUE
	}
	return flags
}

// tunError explains a failure to open /dev/net/tun (a *fs.PathError) or
// to attach to a device through it (an ioctl *os.SyscallError).
func tunError(err error) error {
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "ioctl" {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &fs.PathError{Op: "open", Path: TUNPath, Err: err}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %s missing: load the tun module (modprobe tun); in a container, pass the device in (docker run --device /dev/net/tun, or mknod /dev/net/tun c 10 200)", err, TUNPath)
		case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
			return fmt.Errorf("%w: the tun driver is not loaded: modprobe tun (on the host, for a container)", err)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("%w: run as root, or grant CAP_NET_ADMIN (setcap cap_net_admin+ep $(which l2hub)) and make %s accessible (it is normally mode 0666)", err, TUNPath)
		}
		return err
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("create TAP device: %w: %s", err, netAdminHint)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("attach to TAP device: %w: another program (QEMU?) has it open", err)
	}
	return fmt.Errorf("create TAP device: %w", err)
}

// ownerError adds to a refused change of a device that existed how its
// owner uses it without CAP_NET_ADMIN.
func ownerError(err error, existed bool, name string) error {
	if !existed || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	return fmt.Errorf("%w; or, as the owner of a device made with `ip tuntap add %s mode tap user USER`, leave mac= out (the device keeps its own) and set it up with `ip link set %s up`", err, name, name)
}

// netAdminError wraps a failed netlink change with how to allow it.
func netAdminError(what string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s: %w: %s", what, err, netAdminHint)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Name returns the interface name.
func (d *TAPDevice) Name() string { return d.name }

// MAC returns the device's Ethernet address, as set by OpenTAP.
func (d *TAPDevice) MAC() net.HardwareAddr { return slices.Clone(d.mac) }

// MTU returns the device's MTU, as OpenTAP set or found it.
func (d *TAPDevice) MTU() int { return d.mtu }

// Describe says what the device is ("tap l2h0 in netns lab
// 02:1a:2b:3c:4d:5e 10.42.0.1/24").
func (d *TAPDevice) Describe() string { return d.desc }

// ReadFrame reads the next frame the host sends out of the interface into
// buf and returns its length.
func (d *TAPDevice) ReadFrame(buf []byte) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	b := buf
	if len(b) < tapReadMax {
		if d.rbuf == nil {
			d.rbuf = make([]byte, tapReadMax)
		}
		b = d.rbuf
	}
	n, err := d.f.Read(b)
	if err != nil {
		return 0, d.ioError("read", err)
	}
	switch {
	case n > len(buf) || n > d.maxFrame:
		return 0, &hub.FrameError{Reason: hub.DropOversize, Len: n}
	case n < hub.EthHeaderLen:
		return 0, &hub.FrameError{Reason: hub.DropRunt, Len: n}
	}
	if &b[0] != &buf[0] {
		copy(buf, b[:n])
	}
	return n, nil
}

// ReadFrames implements hub.PortIO: a TAP device hands over one frame per
// read.
func (d *TAPDevice) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if d.rbuf == nil {
		d.rbuf = make([]byte, tapReadMax)
	}
	return hub.ReadFramesSingly(frames, limit, d.rbuf, d.ReadFrame)
}

// WriteFrames implements hub.PortIO, one write per frame.
func (d *TAPDevice) WriteFrames(frames []*hub.Frame) (int, error) {
	return hub.WriteFramesSingly(frames, d.WriteFrame)
}

// WriteFrame hands frame to the host as received on the interface. It does
// not retain frame.
func (d *TAPDevice) WriteFrame(frame []byte) error {
	if d.closed.Load() {
		return net.ErrClosed
	}
	n := len(frame)
	switch {
	case n == 0 || n > d.maxFrame:
		return fmt.Errorf("%s: write %d-byte frame: %w", d.desc, n, hub.ErrFrameTooLarge)
	case n < hub.EthHeaderLen:
		return &hub.FrameError{Reason: hub.DropRunt, Len: n}
	}
	if _, err := d.f.Write(frame); err != nil {
		reason := hub.DropWrite
		switch ierr := d.ioError("write", err); {
		case errors.Is(ierr, net.ErrClosed), errors.Is(ierr, errDeviceGone):
			return ierr
		case errors.Is(err, unix.EIO): // the host set the interface down
			reason = hub.DropDown
		}
		return fmt.Errorf("%s: write: %w (%w)", d.desc, &hub.FrameError{Reason: reason, Len: n}, err)
	}
	return nil
}

// errDeviceGone marks the error of a device deleted under the hub.
var errDeviceGone = errors.New("the interface was deleted")

func (d *TAPDevice) ioError(op string, err error) error {
	switch {
	case d.closed.Load() || errors.Is(err, os.ErrClosed):
		return net.ErrClosed
	case errors.Is(err, unix.EBADFD) || d.detached():
		return fmt.Errorf("%s: %s: %w (%w)", d.desc, op, err, errDeviceGone)
	}
	return fmt.Errorf("%s: %s: %w", d.desc, op, err)
}

// detached reports whether the device behind d's file is gone: the kernel
// then fails TUNGETIFF with EBADFD (and the poller may report the read as
// "not pollable" rather than pass EBADFD on).
func (d *TAPDevice) detached() bool {
	rc, err := d.f.SyscallConn()
	if err != nil {
		return false
	}
	var ierr error
	err = rc.Control(func(fd uintptr) {
		var ifr *unix.Ifreq
		if ifr, ierr = unix.NewIfreq(""); ierr == nil {
			ierr = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr)
		}
	})
	return err == nil && errors.Is(ierr, unix.EBADFD)
}

// Close closes the device, unblocking a pending ReadFrame, and undoes what
// OpenTAP did (see the type's documentation). Calls after the first return
// net.ErrClosed.
func (d *TAPDevice) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	d.drops.last(d) // before the device, and its count, are gone
	if err := d.teardown(); err != nil {
		return fmt.Errorf("%s: close: %w", d.desc, err)
	}
	return nil
}

// teardown releases whatever OpenTAP got as far as acquiring.
func (d *TAPDevice) teardown() error {
	var errs []error
	// A device deleted under the hub has nothing left to restore, and an
	// attach by its name would create a new one.
	gone := d.f != nil && d.detached()
	if d.f != nil {
		// The last close of a non-persistent device deletes it.
		errs = append(errs, d.f.Close())
		if d.undo.flags != 0 && !gone {
			errs = append(errs, d.restoreFeatures())
		}
	}
	if d.nl != nil {
		if d.undo.existed && d.index != 0 && !gone {
			errs = append(errs, d.restore())
		}
		d.nl.Close()
	}
	errs = append(errs, d.ns.release())
	return errors.Join(errs...)
}

// restoreFeatures gives a persistent device back the features (a vnet
// header, packet information) its TUNSETIFF flags had before OpenTAP's
// attach replaced them: the kernel keeps those of the last attach. It
// attaches once more, with the device's own flags, and lets go. (The
// kernel sets the features only on an attach, so there is no other way;
// a program that attaches to a single-queue device in that moment gets
// EBUSY, and one that attached first makes this fail with EBUSY.)
func (d *TAPDevice) restoreFeatures() error {
	reattach := func() error {
		f, err := attachTAP(d.name, d.undo.flags)
		if err != nil {
			return err
		}
		return f.Close()
	}
	var err error
	if d.ns != nil {
		err = inNetns(d.ns.h, reattach)
	} else {
		err = reattach()
	}
	if err != nil {
		return fmt.Errorf("restore the device's flags (vnet_hdr): %w", err)
	}
	return nil
}

// restore puts a device that existed before back the way it was found.
func (d *TAPDevice) restore() error {
	link, err := d.nl.LinkByIndex(d.index)
	if err != nil {
		return fmt.Errorf("restore the interface: %w", err)
	}
	var errs []error
	if a := d.undo.addr; a != nil {
		if err := d.nl.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove address %s: %w", a.IPNet, err))
		}
	}
	if d.undo.mac != nil {
		if err := d.nl.LinkSetHardwareAddr(link, d.undo.mac); err != nil {
			errs = append(errs, fmt.Errorf("restore MAC %s: %w", d.undo.mac, err))
		}
	}
	if d.undo.mtu != 0 {
		if err := d.nl.LinkSetMTU(link, d.undo.mtu); err != nil {
			errs = append(errs, fmt.Errorf("restore MTU %d: %w", d.undo.mtu, err))
		}
	}
	if d.undo.down {
		if err := d.nl.LinkSetDown(link); err != nil {
			errs = append(errs, fmt.Errorf("set the link down: %w", err))
		}
	}
	return errors.Join(errs...)
}
