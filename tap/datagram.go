package tap

import (
	"errors"
	"fmt"
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
// ReadFrame discards, and returns as a *hub.FrameError, every datagram that
// is not a usable frame: from a source other than the peer (DropForeign),
// shorter than MinFrame (DropRunt), longer than the maximum or than the
// caller's buffer (DropOversize; the socket is read with a buffer one byte
// larger than the maximum, so a truncated datagram is seen, never delivered).
//
// WriteFrame reports a failed send as an error that wraps both the system
// error and a *hub.FrameError, so the writer can count the frame and go on
// (the socket remains usable):
//   - DropDown when the peer is not there (a unix peer socket not yet bound,
//     ENOENT or ECONNREFUSED: the VM has not started);
//   - DropOversize when the datagram is too long for the socket (EMSGSIZE);
//   - DropWrite for anything else.
//
// Only a closed socket (net.ErrClosed) and a frame outside 1..max (wrapping
// hub.ErrFrameTooLarge) are returned bare.
type DatagramConn struct {
	sock   datagramSocket
	max    int
	desc   string
	closed atomic.Bool
	// rbuf receives datagrams when the caller's buffer is not larger than
	// the maximum: max+1 bytes, so that an oversized datagram is detected
	// rather than silently truncated. Used only by the reader.
	rbuf []byte
}

var (
	_ hub.PortIO    = (*DatagramConn)(nil)
	_ hub.Describer = (*DatagramConn)(nil)
)

// datagramSocket is the per-family part of a DatagramConn.
type datagramSocket interface {
	// recv reads one datagram into b and says whether it came from a source
	// the conn accepts. It may skip datagrams silently (multicast echoes).
	recv(b []byte) (n int, accepted bool, err error)
	send(b []byte) error
	close() error
}

func newDatagramConn(sock datagramSocket, maxFrame int, desc string) *DatagramConn {
	m := clampMax(maxFrame)
	return &DatagramConn{sock: sock, max: m, desc: desc, rbuf: make([]byte, m+1)}
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
	n, accepted, err := d.sock.recv(dst)
	if err != nil {
		if d.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, fmt.Errorf("%s: read: %w", d.desc, err)
	}
	switch {
	case !accepted:
		return 0, &hub.FrameError{Reason: hub.DropForeign, Len: n}
	case n < MinFrame:
		return 0, &hub.FrameError{Reason: hub.DropRunt, Len: n}
	case n > d.max || n > len(buf):
		return 0, &hub.FrameError{Reason: hub.DropOversize, Len: n}
	}
	if !direct {
		copy(buf, dst[:n])
	}
	return n, nil
}

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
	err := d.sock.send(frame)
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

// Close closes the socket, unblocking ReadFrame and WriteFrame, and removes
// the unix socket file it bound. Calls after the first return net.ErrClosed.
func (d *DatagramConn) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if err := d.sock.close(); err != nil {
		return fmt.Errorf("%s: close: %w", d.desc, err)
	}
	return nil
}

// Describe says what the socket is bound to and whom it sends to
// ("udp 127.0.0.1:7002 peer 127.0.0.1:7003").
func (d *DatagramConn) Describe() string { return d.desc }

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
// or localaddr=). Only datagrams from peer are accepted.
func ListenUDP(local, peer string, maxFrame int) (*DatagramConn, error) {
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
	return newDatagramConn(s, maxFrame, fmt.Sprintf("udp %s peer %s", c.LocalAddr(), s.peer)), nil
}

type udpSocket struct {
	c    *net.UDPConn
	peer netip.AddrPort
}

func (s *udpSocket) recv(b []byte) (int, bool, error) {
	n, src, err := s.c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, false, err
	}
	ok := src.Port() == s.peer.Port() && src.Addr().Unmap() == s.peer.Addr()
	return n, ok, nil
}

func (s *udpSocket) send(b []byte) error {
	_, err := s.c.WriteToUDPAddrPort(b, s.peer)
	return err
}

func (s *udpSocket) close() error { return s.c.Close() }

// ListenUnixgram binds the unix datagram socket path, the one the VM sends
// to (QEMU's remote.path), and sends to peer, the socket the VM binds
// (local.path). A stale socket file at path is replaced; a live one is
// refused with ErrAddrInUse. Close removes path.
func ListenUnixgram(path, peer string, maxFrame int) (*DatagramConn, error) {
	if err := clearStaleSocket("unixgram", path); err != nil {
		return nil, err
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	s := &unixgramSocket{c: c, path: path, peer: &net.UnixAddr{Name: peer, Net: "unixgram"}}
	return newDatagramConn(s, maxFrame, fmt.Sprintf("unixgram %s peer %s", path, peer)), nil
}

type unixgramSocket struct {
	c    *net.UnixConn
	path string
	peer *net.UnixAddr
}

func (s *unixgramSocket) recv(b []byte) (int, bool, error) {
	n, src, err := s.c.ReadFromUnix(b)
	if err != nil {
		return 0, false, err
	}
	return n, src != nil && src.Name == s.peer.Name, nil
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
