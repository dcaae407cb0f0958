//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// openVXLANSocket binds a VTEP's UDP socket and, bound to every address,
// opens the host's addrSource (openAddrs). Network namespaces and
// multicast groups are Linux's here.
func openVXLANSocket(cfg VXLANConfig) (*net.UDPConn, func() error, addrSource, error) {
	if cfg.Netns != "" || cfg.Group.IsValid() {
		return nil, nil, nil, fmt.Errorf("vxlan: netns= and group= need Linux: %w", errors.ErrUnsupported)
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(cfg.Local))
	if err != nil {
		return nil, nil, nil, err
	}
	return c, nil, openAddrs(cfg), nil
}

// interfaceAddrs lists the host's addresses with net.InterfaceAddrs.
type interfaceAddrs struct{}

func openSystemAddrSource() (addrSource, error) { return interfaceAddrs{}, nil }

func (interfaceAddrs) addrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var ips []net.IP
	for _, a := range ifas {
		if p, ok := a.(*net.IPNet); ok {
			ips = append(ips, p.IP)
		}
	}
	return ipv4s(ips), nil
}

func (interfaceAddrs) close() {}

func rxqOverflow([]byte) (uint32, bool) { return 0, false }
