//go:build !linux

package transport

// PeerHungUp reports whether the peer has closed its end; only Linux can
// tell (POLLRDHUP) before everything it sent has been read.
func (c *StreamConn) PeerHungUp() bool { return false }
