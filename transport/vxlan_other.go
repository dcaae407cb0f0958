//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// openVXLANSocket binds a VTEP's UDP socket. Network namespaces and
// multicast groups are Linux's here.
func openVXLANSocket(cfg VXLANConfig) (*net.UDPConn, func() error, []netip.Addr, error) {
	if cfg.Netns != "" || cfg.Group.IsValid() {
		return nil, nil, nil, fmt.Errorf("vxlan: netns= and group= need Linux: %w", errors.ErrUnsupported)
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(cfg.Local))
	if err != nil {
		return nil, nil, nil, err
	}
	self, err := hostAddrs()
	if err != nil {
		c.Close()
		return nil, nil, nil, fmt.Errorf("vxlan %s: %w", cfg.Local, err)
	}
	return c, nil, self, nil
}

func rxqOverflow([]byte) (uint32, bool) { return 0, false }
