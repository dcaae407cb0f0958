//go:build linux

package transport

import (
	"maps"
	"net"
	"net/netip"
	"os"
	"strconv"

	"l2hub/tap"
)

// openTAPRunner opens the TAP device a tap spec describes.
func openTAPRunner(b *runnerBase) (Runner, error) {
	s := b.spec
	host, _ := os.Hostname() // "" if it cannot be read: the MAC is still stable
	where := s.Options["netns"]
	if where == "" {
		where = tap.CurrentNetns()
	}
	cfg := tap.TAPConfig{Name: s.Address, Netns: s.Options["netns"], MaxFrame: b.opts.MaxFrame, Logger: b.log, MAC: tap.DefaultTAPMAC(host, where, s.Address, s.Name)}
	if m, ok := s.Options["mac"]; ok {
		hw, err := net.ParseMAC(m)
		if err != nil {
			return nil, err
		}
		cfg.MAC = hw
	}
	if m, ok := s.Options["mtu"]; ok {
		n, err := strconv.Atoi(m)
		if err != nil {
			return nil, err
		}
		cfg.MTU = n
	}
	if ip, ok := s.Options["ip"]; ok {
		p, err := netip.ParsePrefix(ip)
		if err != nil {
			return nil, err
		}
		cfg.Addr = p
	}
	dev, err := tap.OpenTAP(cfg)
	if err != nil {
		return nil, err
	}
	opts := maps.Clone(s.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	opts["mac"] = dev.MAC().String()
	b.spec.Options = opts
	_, given := s.Options["mtu"]
	leave := mtuPeers.join(&mtuPeer{port: s.Name, device: s.Address, mtu: dev.MTU(), givenMTU: given, log: b.log})
	return &boundRunner{runnerBase: b, conn: &tapConn{TAPDevice: dev, leave: leave}, what: "TAP device", key: "device"}, nil
}

// tapConn is a tap port's device, which leaves mtuPeers when closed.
type tapConn struct {
	*tap.TAPDevice
	leave func()
}

func (c *tapConn) Close() error {
	c.leave()
	return c.TAPDevice.Close()
}
