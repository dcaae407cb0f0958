//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerUID is not implemented here: only the socket file's owner and mode
// protect the control socket.
func peerUID(net.Conn) (int, error) { return 0, errors.ErrUnsupported }

// tcpServerUID is not implemented here: a TCP control address's server is
// not checked.
func tcpServerUID(net.Conn) (int, bool, error) { return 0, false, errors.ErrUnsupported }
