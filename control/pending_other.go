//go:build !unix

package control

import "net"

// pendingInput cannot tell here: every connection is taken to have sent
// nothing yet.
func pendingInput(net.Conn) bool { return false }
