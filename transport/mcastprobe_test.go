package transport_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// hostMulticast reports whether this host carries IPv4 multicast on its
// loopback interface at all, asked with plain sockets and none of the
// product's code: a sandbox without a loopback multicast route skips the
// multicast tests, and from then on anything the product's multicast
// ports fail to do is a failure. The answer is found once per run.
var hostMulticast = sync.OnceValue(func() error {
	ifis, err := net.Interfaces()
	if err != nil {
		return err
	}
	var lo *net.Interface
	for _, ifi := range ifis {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			lo = &ifi
			break
		}
	}
	if lo == nil {
		return errNoMulticastLoopback
	}
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return err
	}
	defer c.Close()
	p := ipv4.NewPacketConn(c)
	group := &net.UDPAddr{IP: net.ParseIP(mcastGroup), Port: c.LocalAddr().(*net.UDPAddr).Port}
	if err := p.JoinGroup(lo, group); err != nil {
		return err
	}
	if err := p.SetMulticastInterface(lo); err != nil {
		return err
	}
	if err := p.SetMulticastLoopback(true); err != nil {
		return err
	}
	if _, err := p.WriteTo([]byte("probe"), nil, group); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, _, _, err := p.ReadFrom(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "probe" {
		return errNoMulticastLoopback
	}
	return nil
})

type probeError string

func (e probeError) Error() string { return string(e) }

const errNoMulticastLoopback = probeError("no up, multicast-capable loopback interface delivered a probe")

// needMulticast skips t when the host has no loopback multicast (see
// hostMulticast).
func needMulticast(t *testing.T) {
	t.Helper()
	if err := hostMulticast(); err != nil {
		t.Skipf("skipped: this host does not carry multicast on loopback (a plain socket's probe: %v)", err)
	}
}
