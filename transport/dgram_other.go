//go:build !linux

package transport

import (
	"syscall"

	"l2hub/hub"
)

// dgramBatch is the batched path, which needs Linux's recvmmsg and
// sendmmsg; elsewhere DatagramConn moves one datagram per system call.
type dgramBatch struct{}

func newDgramBatch(*DatagramConn) *dgramBatch { return nil }

func (*dgramBatch) read([]*hub.Frame, int) (int, error) { panic("tap: no batched datagram path") }
func (*dgramBatch) write([]*hub.Frame) (int, error)     { panic("tap: no batched datagram path") }

// tune sizes the socket buffers for bursts, as far as the system allows.
func (d *DatagramConn) tune(size int) {
	if size <= 0 {
		size = DefaultSocketBuffer
	}
	if uc := d.sock.unixConn(); uc != nil {
		uc.SetReadBuffer(size)
		uc.SetWriteBuffer(size)
		return
	}
	d.sock.rx().SetReadBuffer(size)
	d.sock.tx().SetWriteBuffer(size)
}

// socketDrops would read a socket's drop count; only Linux has one.
type socketDrops struct{}

func (*socketDrops) init(syscall.RawConn) {}
func (*socketDrops) read() (uint32, bool) { return 0, false }
