//go:build linux

package transport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"l2hub/hub"
)

// dgramBatchLen is how many datagrams one recvmmsg(2) or sendmmsg(2) moves
// at most. The receive side holds a buffer of max+1 bytes for each.
const dgramBatchLen = 8

// mmsghdr is struct mmsghdr: a msghdr and the length the kernel reports.
// Go pads it as C does, on 32-bit and 64-bit platforms alike.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// oobLen holds one SO_RXQ_OVFL control message (a uint32).
var oobLen = unix.CmsgSpace(4)

// dgramBatch is a DatagramConn's batched path: recvmmsg and sendmmsg on the
// sockets' raw file descriptors, through the runtime's poller (a call that
// would block parks the goroutine, as the net package's own reads do), with
// every buffer, address and header allocated once.
type dgramBatch struct {
	d      *DatagramConn
	rx, tx syscall.RawConn

	// Reader state: the datagrams the last recvmmsg brought, and how many
	// of them ReadFrames has handed on.
	bufs       [dgramBatchLen][]byte
	iov        [dgramBatchLen]unix.Iovec
	names      [dgramBatchLen]unix.RawSockaddrAny
	oob        [dgramBatchLen][]byte
	hdrs       [dgramBatchLen]mmsghdr
	next, have int

	// Writer state: the destination, and a header and vector per frame.
	dest    unix.RawSockaddrAny
	destLen uint32
	siov    [dgramBatchLen]unix.Iovec
	shdrs   [dgramBatchLen]mmsghdr
}

func newDgramBatch(d *DatagramConn) *dgramBatch {
	var rxc, txc syscall.Conn
	if uc := d.sock.unixConn(); uc != nil {
		rxc, txc = uc, uc
	} else {
		rxc, txc = d.sock.rx(), d.sock.tx()
	}
	rx, err := rxc.SyscallConn()
	if err != nil {
		return nil
	}
	tx, err := txc.SyscallConn()
	if err != nil {
		return nil
	}
	b := &dgramBatch{d: d, rx: rx, tx: tx}
	var ok bool
	if b.destLen, ok = rawSockaddr(d.sock.dest(), &b.dest); !ok {
		return nil
	}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, d.max+1)
		b.oob[i] = make([]byte, oobLen)
	}
	return b
}

// rawSockaddr writes a into sa and returns its length.
func rawSockaddr(a sockAddr, sa *unix.RawSockaddrAny) (uint32, bool) {
	if a.path != "" {
		u := (*unix.RawSockaddrUnix)(unsafe.Pointer(sa))
		if len(a.path) >= len(u.Path) {
			return 0, false
		}
		u.Family = unix.AF_UNIX
		for i := range len(a.path) {
			u.Path[i] = int8(a.path[i])
		}
		return uint32(unsafe.Offsetof(u.Path)) + uint32(len(a.path)) + 1, true
	}
	addr := a.ap.Addr().Unmap()
	if addr.Is4() {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s4.Port))[:], a.ap.Port())
		s4.Addr = addr.As4()
		return unix.SizeofSockaddrInet4, true
	}
	s6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
	s6.Family = unix.AF_INET6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s6.Port))[:], a.ap.Port())
	s6.Addr = addr.As16()
	return unix.SizeofSockaddrInet6, true
}

// parseSockaddr decodes a datagram's source without allocating: the unix
// path is a string the comparison in classify does not keep.
func parseSockaddr(sa *unix.RawSockaddrAny, n uint32) sockAddr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&s4.Port))[:])
		return sockAddr{ap: netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)}
	case unix.AF_INET6:
		s6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&s6.Port))[:])
		return sockAddr{ap: netip.AddrPortFrom(netip.AddrFrom16(s6.Addr).Unmap(), port)}
	case unix.AF_UNIX:
		u := (*unix.RawSockaddrUnix)(unsafe.Pointer(sa))
		off := uint32(unsafe.Offsetof(u.Path))
		if n <= off {
			return sockAddr{} // unnamed: an unbound socket
		}
		p := unsafe.Slice((*byte)(unsafe.Pointer(&u.Path[0])), min(n-off, uint32(len(u.Path))))
		for i, c := range p {
			if c == 0 {
				p = p[:i]
				break
			}
		}
		return sockAddr{path: unsafe.String(unsafe.SliceData(p), len(p))}
	}
	return sockAddr{}
}

// receive fills the batch with what the socket holds, waiting for the
// first datagram.
func (b *dgramBatch) receive() error {
	for i := range b.hdrs {
		b.iov[i] = unix.Iovec{Base: &b.bufs[i][0]}
		b.iov[i].SetLen(len(b.bufs[i]))
		h := &b.hdrs[i].hdr
		*h = unix.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&b.names[i])),
			Namelen: unix.SizeofSockaddrAny,
			Iov:     &b.iov[i],
			Control: &b.oob[i][0],
		}
		h.SetIovlen(1)
		h.SetControllen(len(b.oob[i]))
		b.hdrs[i].len = 0
	}
	var n uintptr
	var errno syscall.Errno
	err := b.rx.Read(func(fd uintptr) bool {
		// MSG_TRUNC: a datagram longer than its buffer reports its real length.
		n, _, errno = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), dgramBatchLen, unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		return errno != unix.EAGAIN
	})
	switch {
	case err != nil:
		return err
	case errno != 0:
		return errno
	}
	b.next, b.have = 0, int(n)
	return nil
}

// kernelDropsIn reads a received message's SO_RXQ_OVFL control message:
// the socket's drop count when the datagram was queued.
func kernelDropsIn(h *unix.Msghdr, oob []byte) (uint32, bool) {
	return rxqOverflow(oob[:min(int(h.Controllen), len(oob))])
}

// read implements DatagramConn.ReadFrames.
func (b *dgramBatch) read(frames []*hub.Frame, limit int) (int, error) {
	n := 0
	for n < len(frames) {
		if b.next == b.have {
			if n > 0 {
				break // hand over what we have rather than wait
			}
			if b.d.closed.Load() {
				return 0, net.ErrClosed
			}
			if err := b.receive(); err != nil {
				return 0, b.d.readErr(err)
			}
			continue
		}
		i := b.next
		h := &b.hdrs[i]
		if drops, ok := kernelDropsIn(&h.hdr, b.oob[i]); ok {
			b.d.kernelDrops.report(drops)
		}
		size := int(h.len) // with MSG_TRUNC, the datagram's length even past the buffer
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			size = max(size, len(b.bufs[i])) // oversized, in any case
		}
		src := parseSockaddr(&b.names[i], h.hdr.Namelen)
		v := b.d.sock.classify(src)
		if v == skip {
			b.next++
			continue
		}
		if v != accept {
			src.path = strings.Clone(src.path) // it points into names[i]
		}
		if err := b.d.check(size, limit, v, src); err != nil {
			if n > 0 {
				break // reported on its own, by the next call
			}
			b.next++
			return 0, err
		}
		frames[n] = hub.FrameOf(b.bufs[i][:size])
		n++
		b.next++
	}
	return n, nil
}

// write implements DatagramConn.WriteFrames for frames within bounds.
func (b *dgramBatch) write(frames []*hub.Frame) (int, error) {
	sent := 0
	for sent < len(frames) {
		batch := frames[sent:min(len(frames), sent+dgramBatchLen)]
		for i, f := range batch {
			data := f.Bytes()
			b.siov[i] = unix.Iovec{Base: &data[0]}
			b.siov[i].SetLen(len(data))
			h := &b.shdrs[i].hdr
			*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.dest)), Namelen: b.destLen, Iov: &b.siov[i]}
			h.SetIovlen(1)
		}
		var n uintptr
		var errno syscall.Errno
		err := b.tx.Write(func(fd uintptr) bool {
			n, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.shdrs[0])), uintptr(len(batch)), unix.MSG_DONTWAIT, 0, 0)
			return errno != unix.EAGAIN
		})
		clear(b.siov[:len(batch)]) // keep no frame alive
		switch {
		case err != nil:
			if b.d.closed.Load() {
				return sent, net.ErrClosed
			}
			return sent, err
		case errno != 0:
			// sendmmsg fails only when its first datagram does.
			return sent, b.d.sendErr(errno, batch[0].Len())
		}
		sent += int(n)
	}
	return sent, nil
}

// tune sizes the socket buffers for bursts and asks for the kernel's drop
// count with every datagram.
func (d *DatagramConn) tune(size int) {
	if size <= 0 {
		size = DefaultSocketBuffer
	}
	d.rcvAsked = size
	var conns []syscall.Conn
	if uc := d.sock.unixConn(); uc != nil {
		conns = append(conns, uc)
	} else {
		conns = append(conns, d.sock.rx())
		if d.sock.tx() != d.sock.rx() {
			conns = append(conns, d.sock.tx())
		}
	}
	for i, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			continue
		}
		if i == 0 {
			d.kernelDrops.sock.init(rc)
		}
		rc.Control(func(fd uintptr) {
			setBuf(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, size)
			if i == 0 { // the receiving socket
				setBuf(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, size)
				// Linux reports twice what it grants (the rest is its
				// bookkeeping): see socket(7).
				if got, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
					d.rcvGranted = got / 2
				}
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
			}
		})
	}
}

// setBuf sets a socket buffer past the system's maximum where allowed
// (CAP_NET_ADMIN), else up to it. Failure leaves the default: a smaller
// buffer costs drops under bursts, which are counted, not correctness.
func setBuf(fd, force, plain, size int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size)
	}
}

// socketDrops reads a socket's drop count as it is now: SO_MEMINFO's
// SK_MEMINFO_DROPS, the counter SO_RXQ_OVFL reports with each datagram.
// golang.org/x/sys/unix has the constants but no getter for the option's
// array of uint32 (GetsockoptString stops at the first zero byte,
// GetsockoptUint64 takes two of the nine), so getsockopt(2) is called
// directly, as recvmmsg is. The buffers and the function handed to the
// raw conn are made once: a read allocates nothing. mu guards them, since
// Close may read while the reader does.
type socketDrops struct {
	mu    sync.Mutex
	raw   syscall.RawConn
	fn    func(fd uintptr)
	info  [unix.SK_MEMINFO_VARS]uint32
	size  uint32
	errno syscall.Errno
}

func (s *socketDrops) init(raw syscall.RawConn) {
	s.raw = raw
	s.fn = func(fd uintptr) {
		s.size = uint32(unsafe.Sizeof(s.info))
		_, _, s.errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&s.info)), uintptr(unsafe.Pointer(&s.size)), 0)
	}
}

// read returns the count; false for a closed socket, or a kernel that
// fills in fewer entries (older than SK_MEMINFO_DROPS).
func (s *socketDrops) read() (uint32, bool) {
	if s.raw == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.raw.Control(s.fn); err != nil || s.errno != 0 || s.size < 4*(unix.SK_MEMINFO_DROPS+1) {
		return 0, false
	}
	return s.info[unix.SK_MEMINFO_DROPS], true
}
