//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"net"
)

// openVXLANSocket binds a VTEP's UDP socket. Network namespaces and
// multicast groups are Linux's here.
func openVXLANSocket(cfg VXLANConfig) (*net.UDPConn, func() error, error) {
	if cfg.Netns != "" || cfg.Group.IsValid() {
		return nil, nil, fmt.Errorf("vxlan: netns= and group= need Linux: %w", errors.ErrUnsupported)
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(cfg.Local))
	return c, nil, err
}

func rxqOverflow([]byte) (uint32, bool) { return 0, false }
