package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"l2hub/hub"
)

// DatagramConn carries one frame per datagram, with no prefix, the way
// QEMU's `-netdev dgram` and `-netdev socket,udp=|mcast=` do. It is always
// "attached": there is no connection, only a bound socket and a peer to send
// to. Build one with ListenUDP, ListenUnixgram, JoinMcast or
// JoinMcastLikeQEMU.
//
// Reading discards, and returns as a *hub.FrameError, every datagram that
// is not a usable frame: from a source other than the peer (DropForeign),
// shorter than MinFrame (DropRunt), longer than the maximum or than the
// caller's buffer (DropOversize; the socket is read with a buffer one byte
// larger than the maximum, so a truncated datagram is seen, never delivered).
//
// Writing reports a frame the socket could not send as an error that wraps
// both the system error and a *hub.FrameError, so the writer can count the
// frame and go on (the socket remains usable):
//   - DropDown when the peer is not there (a unix peer socket not yet bound,
//     ENOENT or ECONNREFUSED: the VM has not started);
//   - DropOversize when the datagram is too long for the socket (EMSGSIZE);
//   - DropWrite for anything else.
//
// Only a closed socket (net.ErrClosed) and a frame outside 1..max (wrapping
// hub.ErrFrameTooLarge, WriteFrame only) are returned bare.
//
// A datagram socket cannot push back on its sender: while the hub does not
// read it (the port is paused), the kernel buffers what arrives and, once
// the buffer is full, drops it. The receive buffer is sized for bursts
// (DefaultSocketBuffer, or the port's sockbuf= option; ReceiveBuffer says
// what the kernel granted). KernelDrops reports the kernel's drop count,
// and the hub counts it as DropKernel. On Linux the count comes with every
// datagram (SO_RXQ_OVFL) and is also read from the socket whenever
// KernelDrops is called (SO_MEMINFO), so that the drops of a burst's tail,
// which no later datagram reports, are counted too. On Linux, ReadFrames
// and WriteFrames move up to a batch of datagrams per system call
// (recvmmsg, sendmmsg).
type DatagramConn struct {
	sock   datagramSocket
	max    int
	desc   string
	closed atomic.Bool
	// rbuf receives datagrams when the caller's buffer is not larger than
	// the maximum: max+1 bytes, so that an oversized datagram is detected
	// rather than silently truncated. Used only by the reader.
	rbuf []byte
	// batch is the batched system-call path (Linux); nil elsewhere.
	batch *dgramBatch
	// kernelDrops is what the kernel reported dropping (SO_RXQ_OVFL, and
	// SO_MEMINFO from the receiving socket on Linux).
	kernelDrops kernelDrops
	// rcvAsked and rcvGranted are the receive buffer asked for and the
	// one the kernel gave (0 where it does not say).
	rcvAsked, rcvGranted int
}

var (
	_ hub.PortIO        = (*DatagramConn)(nil)
	_ hub.Describer     = (*DatagramConn)(nil)
	_ hub.KernelDropper = (*DatagramConn)(nil)
)

// DefaultSocketBuffer is the receive and send buffer a datagram port asks
// the kernel for: a burst the hub does not read at once (a paused port, a
// busy machine) waits there instead of being dropped. As root the request
// passes net.core.rmem_max (SO_RCVBUFFORCE); otherwise the kernel caps it.
const DefaultSocketBuffer = 4 << 20

// verdict is what a datagram's source means.
type verdict uint8

const (
	accept  verdict = iota // the peer (or, for multicast, a member)
	foreign                // someone else: counted as DropForeign
	skip                   // our own multicast echo: ignored silently
)

// datagramSocket is the per-family part of a DatagramConn.
type datagramSocket interface {
	// recv reads one datagram into b and says where it came from.
	recv(b []byte) (n int, src sockAddr, err error)
	send(b []byte) error
	close() error
	// rx and tx are the receiving and sending sockets (the same but for
	// the hub's multicast member); dest is where tx sends.
	rx() *net.UDPConn
	tx() *net.UDPConn
	unixConn() *net.UnixConn
	dest() sockAddr
	// classify judges a datagram's source.
	classify(src sockAddr) verdict
}

// sockAddr is a datagram source or destination, inet or unix.
type sockAddr struct {
	ap   netip.AddrPort
	path string
}

func newDatagramConn(sock datagramSocket, maxFrame int, desc string, bufSize int) *DatagramConn {
	m := clampMax(maxFrame)
	d := &DatagramConn{sock: sock, max: m, desc: desc, rbuf: make([]byte, m+1)}
	d.tune(bufSize)
	d.batch = newDgramBatch(d)
	return d
}

// ReadFrame reads the next datagram into buf and returns its length.
func (d *DatagramConn) ReadFrame(buf []byte) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	dst, direct := d.rbuf, len(buf) > d.max
	if direct {
		dst = buf[:d.max+1]
	}
	var n int
	var src sockAddr
	v := skip
	for v == skip { // our own multicast echo: ignored silently
		var err error
		if n, src, err = d.sock.recv(dst); err != nil {
			return 0, d.readErr(err)
		}
		v = d.sock.classify(src)
	}
	if err := d.check(n, len(buf), v, src); err != nil {
		return 0, err
	}
	if !direct {
		copy(buf, dst[:n])
	}
	return n, nil
}

// check judges a datagram of n bytes from src, whose verdict is v, for a
// reader that takes up to limit.
func (d *DatagramConn) check(n, limit int, v verdict, src sockAddr) error {
	switch {
	case v != accept:
		return &foreignError{fe: hub.FrameError{Reason: hub.DropForeign, Len: n}, src: src.String(), peer: d.sock.dest().String()}
	case n < MinFrame:
		return &hub.FrameError{Reason: hub.DropRunt, Len: n}
	case n > d.max || n > limit:
		return &hub.FrameError{Reason: hub.DropOversize, Len: n}
	}
	return nil
}

func (d *DatagramConn) readErr(err error) error {
	if d.closed.Load() {
		return net.ErrClosed
	}
	return fmt.Errorf("%s: read: %w", d.desc, err)
}

// ReadFrames implements hub.PortIO: it waits for a datagram, then takes
// every further one already queued, up to len(frames) (on Linux; elsewhere
// one per call). A datagram that is not a usable frame is returned as a
// *hub.FrameError on its own.
//
// After Close, ReadFrames hands over the datagrams a batch already took,
// then net.ErrClosed. On Linux one system call may take more datagrams
// from the socket than a call hands over; those were received, so calls
// after Close still return them, in order and without waiting for more (a
// frame, or a *hub.FrameError for one that is not a usable frame, as
// before Close), and net.ErrClosed once none is left. The hub counts any it
// can no longer forward. Elsewhere, and once a batch is spent, ReadFrames
// after Close returns net.ErrClosed at once.
func (d *DatagramConn) ReadFrames(frames []*hub.Frame, limit int) (int, error) {
	if len(frames) == 0 {
		return 0, nil
	}
	if d.batch != nil {
		return d.batch.read(frames, limit) // net.ErrClosed once nothing is left
	}
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := d.ReadFrame(d.rbuf[:min(limit, d.max)])
	if err != nil {
		return 0, err
	}
	frames[0] = hub.FrameOf(d.rbuf[:n])
	return 1, nil
}

// KernelDrops implements hub.KernelDropper: the datagrams the kernel has
// dropped at this socket because its receive buffer was full. On Linux the
// count is read from the socket at the call, so it includes drops that no
// datagram read since reports (a burst's tail); after Close it is the count
// read when the socket closed. Elsewhere it is 0. Safe for concurrent use
// with ReadFrames.
func (d *DatagramConn) KernelDrops() uint64 { return d.kernelDrops.now() }

// WriteFrame sends frame as one datagram to the peer. It does not retain
// frame. See the type's documentation for the errors.
func (d *DatagramConn) WriteFrame(frame []byte) error {
	if d.closed.Load() {
		return net.ErrClosed
	}
	n := len(frame)
	if n == 0 || n > d.max {
		return fmt.Errorf("%s: write %d-byte frame outside 1..%d: %w", d.desc, n, d.max, hub.ErrFrameTooLarge)
	}
	return d.sendErr(d.sock.send(frame), n)
}

// sendErr turns a failed send of an n-byte frame into WriteFrame's error.
func (d *DatagramConn) sendErr(err error, n int) error {
	if err == nil {
		return nil
	}
	if d.closed.Load() {
		return net.ErrClosed
	}
	reason := hub.DropWrite
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		reason = hub.DropDown
	case errors.Is(err, syscall.EMSGSIZE):
		reason = hub.DropOversize
	}
	return fmt.Errorf("%s: write: %w (%w)", d.desc, &hub.FrameError{Reason: reason, Len: n}, err)
}

// WriteFrames implements hub.PortIO: the frames as datagrams, in order, up
// to a batch per system call on Linux. A frame the socket refuses (see the
// type's documentation) is reported with the frames before it sent.
func (d *DatagramConn) WriteFrames(frames []*hub.Frame) (int, error) {
	if d.closed.Load() {
		return 0, net.ErrClosed
	}
	for i, f := range frames {
		if n := f.Len(); n == 0 || n > d.max {
			sent, err := d.writeFrames(frames[:i])
			if err != nil {
				return sent, err
			}
			return i, &hub.FrameError{Reason: hub.DropOversize, Len: n}
		}
	}
	return d.writeFrames(frames)
}

func (d *DatagramConn) writeFrames(frames []*hub.Frame) (int, error) {
	if d.batch != nil {
		return d.batch.write(frames)
	}
	for i, f := range frames {
		if err := d.sendErr(d.sock.send(f.Bytes()), f.Len()); err != nil {
			return i, err
		}
	}
	return len(frames), nil
}

// Close closes the socket, unblocking ReadFrame and WriteFrame, and removes
// the unix socket file it bound. Calls after the first return net.ErrClosed.
func (d *DatagramConn) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	d.kernelDrops.now() // the last count: KernelDrops reports it from now on
	if err := d.sock.close(); err != nil {
		return fmt.Errorf("%s: close: %w", d.desc, err)
	}
	return nil
}

// Describe says what the socket is bound to and whom it sends to
// ("udp 127.0.0.1:7002 peer 127.0.0.1:7003").
func (d *DatagramConn) Describe() string { return d.desc }

// ReceiveBuffer returns the receive buffer the kernel granted, in bytes
// (0 where it does not say), and the one asked for. Without CAP_NET_ADMIN
// the kernel caps the request at net.core.rmem_max: a burst beyond what it
// grants is dropped by the kernel, and counted as kernel-overflow.
func (d *DatagramConn) ReceiveBuffer() (granted, asked int) { return d.rcvGranted, d.rcvAsked }

// MaxFrame returns the largest frame accepted in either direction.
func (d *DatagramConn) MaxFrame() int { return d.max }

// LocalAddr returns the address the socket is bound to (for a multicast
// conn, the group address with its port).
func (d *DatagramConn) LocalAddr() net.Addr {
	switch s := d.sock.(type) {
	case *udpSocket:
		return s.c.LocalAddr()
	case *unixgramSocket:
		return s.c.LocalAddr()
	case *mcastSocket:
		return net.UDPAddrFromAddrPort(s.group)
	}
	return nil
}

// ListenUDP binds local, the address the VM sends to (QEMU's remote.* or
// udp=), and sends to peer, the address the VM is bound to (QEMU's local.*
// or localaddr=). Only datagrams from peer are accepted. bufSize is the
// socket buffer to ask for (0: DefaultSocketBuffer).
func ListenUDP(local, peer string, maxFrame, bufSize int) (*DatagramConn, error) {
	pa, err := net.ResolveUDPAddr("udp", peer)
	if err != nil {
		return nil, fmt.Errorf("udp peer %s: %w", peer, err)
	}
	la, err := net.ResolveUDPAddr("udp", local)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", local, err)
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, err
	}
	p := pa.AddrPort()
	s := &udpSocket{c: c, peer: netip.AddrPortFrom(p.Addr().Unmap(), p.Port())}
	return newDatagramConn(s, maxFrame, fmt.Sprintf("udp %s peer %s", boundAddress(local, c.LocalAddr()), s.peer), bufSize), nil
}

type udpSocket struct {
	c    *net.UDPConn
	peer netip.AddrPort
}

func (s *udpSocket) recv(b []byte) (int, sockAddr, error) {
	n, src, err := s.c.ReadFromUDPAddrPort(b)
	return n, sockAddr{ap: src}, err
}

func (s *udpSocket) send(b []byte) error {
	_, err := s.c.WriteToUDPAddrPort(b, s.peer)
	return err
}

func (s *udpSocket) close() error            { return s.c.Close() }
func (s *udpSocket) rx() *net.UDPConn        { return s.c }
func (s *udpSocket) tx() *net.UDPConn        { return s.c }
func (s *udpSocket) unixConn() *net.UnixConn { return nil }
func (s *udpSocket) dest() sockAddr          { return sockAddr{ap: s.peer} }
func (s *udpSocket) classify(src sockAddr) verdict {
	if src.ap.Port() == s.peer.Port() && src.ap.Addr().Unmap() == s.peer.Addr() {
		return accept
	}
	return foreign
}

// ListenUnixgram binds the unix datagram socket path, the one the VM sends
// to (QEMU's remote.path), and sends to peer, the socket the VM binds
// (local.path). The file at path has mode DefaultSocketMode whatever the
// umask (a port's mode= option changes it). A stale socket file at path is
// replaced; a live one is refused with ErrAddrInUse. Close removes path.
func ListenUnixgram(path, peer string, maxFrame, bufSize int) (*DatagramConn, error) {
	return listenUnixgramConn(path, peer, DefaultSocketMode, maxFrame, bufSize)
}

func listenUnixgramConn(path, peer string, mode fs.FileMode, maxFrame, bufSize int) (*DatagramConn, error) {
	if err := clearStaleSocket("unixgram", path); err != nil {
		return nil, err
	}
	c, err := listenUnixgram(path, mode)
	if err != nil {
		return nil, err
	}
	// The hub prints the peer's path absolute (the banner, -netdev's
	// local.path=), and QEMU binds local.path as given, so the kernel
	// reports the sender as that absolute path. It is also where the hub
	// sends, whatever directory it runs in.
	abs := absSocketPath(peer)
	s := &unixgramSocket{c: c, path: path, peer: &net.UnixAddr{Name: abs, Net: "unixgram"}, asWritten: peer}
	return newDatagramConn(s, maxFrame, fmt.Sprintf("unixgram %s peer %s", path, abs), bufSize), nil
}

type unixgramSocket struct {
	c    *net.UnixConn
	path string
	// peer is the peer's socket, absolute where the path allows (see
	// absSocketPath); asWritten is the path as the caller gave it.
	peer      *net.UnixAddr
	asWritten string
}

func (s *unixgramSocket) recv(b []byte) (int, sockAddr, error) {
	n, src, err := s.c.ReadFromUnix(b)
	if err != nil || src == nil {
		return n, sockAddr{}, err
	}
	return n, sockAddr{path: src.Name}, nil
}

func (s *unixgramSocket) send(b []byte) error {
	_, err := s.c.WriteToUnix(b, s.peer)
	return err
}

func (s *unixgramSocket) close() error {
	err := s.c.Close()
	removeSocketFile(s.path)
	return err
}

func (s *unixgramSocket) rx() *net.UDPConn        { return nil }
func (s *unixgramSocket) tx() *net.UDPConn        { return nil }
func (s *unixgramSocket) unixConn() *net.UnixConn { return s.c }
func (s *unixgramSocket) dest() sockAddr          { return sockAddr{path: s.peer.Name} }

// classify accepts a sender bound to the peer's absolute path or to the
// path exactly as the caller wrote it, nothing else. The kernel reports a
// source as its sender bound it, and a sender resolved a relative path
// against its own directory, which the hub cannot know: taking a relative
// source from the hub's directory would accept a stranger that binds
// "vm.sock" (or "../lab/vm.sock") where it runs. Nor is another spelling
// of the absolute path taken ("/lab//vm.sock", "/lab/x/../vm.sock"): the
// second is another file if x is a symbolic link.
func (s *unixgramSocket) classify(src sockAddr) verdict {
	if src.path != "" && (src.path == s.peer.Name || src.path == s.asWritten) {
		return accept
	}
	return foreign // an unbound sender among them, which cannot be the VM
}

// String is the address as a user would write it ("127.0.0.1:7003",
// "/run/vm.sock"); an unbound unix sender is "an unbound socket".
func (a sockAddr) String() string {
	switch {
	case a.path != "":
		return a.path
	case a.ap.IsValid():
		return a.ap.String()
	}
	return "an unbound socket"
}

// A foreignError is a datagram refused because it is not from the peer, with
// who sent it, so that the hub's log of discarded frames shows the
// mismatch (a VM bound to another path or port than the hub sends to).
type foreignError struct {
	fe        hub.FrameError
	src, peer string
}

func (e *foreignError) Error() string {
	return fmt.Sprintf("datagram from %s, which is not this port's peer %s: %v", e.src, e.peer, &e.fe)
}

func (e *foreignError) Unwrap() error { return &e.fe }

// kernelDrops follows the kernel's count of datagrams a socket dropped
// (sk_drops): a 32-bit counter since the socket was made, which may wrap.
// SO_RXQ_OVFL reports it with each datagram as it was when that datagram
// was queued; SO_MEMINFO reads it as it is now. A datagram read after a
// direct reading thus carries an older count, which must not move the
// total. Safe for concurrent use.
type kernelDrops struct {
	total atomic.Uint64
	last  atomic.Uint32 // the newest count seen
	sock  socketDrops   // reads the count from the socket, once init'ed
}

// now takes the socket's count as it is now and returns the total. Where
// it cannot be read (a closed socket, a system other than Linux), the
// total stays as the datagrams reported it.
func (k *kernelDrops) now() uint64 {
	if v, ok := k.sock.read(); ok {
		k.report(v)
	}
	return k.total.Load()
}

// report takes a count, from a datagram or the socket. A count that is not
// ahead of the newest seen (within half the counter's range) is older news
// and changes nothing.
func (k *kernelDrops) report(v uint32) {
	for {
		last := k.last.Load()
		ahead := v - last
		if ahead == 0 || ahead > math.MaxInt32 {
			return
		}
		if k.last.CompareAndSwap(last, v) {
			k.total.Add(uint64(ahead))
			return
		}
	}
}
