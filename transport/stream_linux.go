package transport

import (
	"syscall"

	"golang.org/x/sys/unix"

	"l2hub/hub"
)

var _ hub.PeerBacklog = (*StreamConn)(nil)

// PeerBacklog reports the bytes the kernel still holds for the peer
// (SIOCOUTQ): for TCP those not yet acknowledged, for a unix socket those
// its peer has not read. The hub's stall check counts any change as the
// peer's progress, so a peer that reads slowly is not taken for a stalled
// one while a write waits for the send buffer to half empty. It changes
// in steps, not with each byte the peer reads: over TCP when the peer's
// kernel acknowledges (after a full window, when it opens it again: about
// every 64 KiB read on loopback), over a unix socket when the peer has
// read the whole of one of the kernel's buffers (tens of KiB). ok is false
// for a connection that is not a socket, or closed.
func (c *StreamConn) PeerBacklog() (bytes int, ok bool) {
	var err error
	if !c.onSocket(func(fd int) { bytes, err = unix.IoctlGetInt(fd, unix.SIOCOUTQ) }) || err != nil {
		return 0, false
	}
	return bytes, true
}

// PeerHungUp reports whether the peer has closed its end or the connection
// has failed, whether or not everything it sent has been read (poll(2)'s
// POLLRDHUP): a reader paused with unread frames does not see the end yet.
func (c *StreamConn) PeerHungUp() bool {
	hung := false
	c.onSocket(func(fd int) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		n, err := unix.Poll(fds, 0)
		hung = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
	})
	return hung
}

// onSocket runs fn on the connection's socket; false, without running it,
// when the connection is not a socket or is closed.
func (c *StreamConn) onSocket(fn func(fd int)) bool {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	return raw.Control(func(fd uintptr) { fn(int(fd)) }) == nil
}
