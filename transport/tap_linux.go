//go:build linux

package transport

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"strconv"

	"l2hub/hub"
	"l2hub/tap"
)

// openTAPRunner opens the TAP device a tap spec describes.
func openTAPRunner(b *runnerBase) (Runner, error) {
	s := b.spec
	host, _ := os.Hostname()                   // "" if it cannot be read: the MAC is still stable
	where := tap.NetnsName(s.Options["netns"]) // a path by the namespace's name: one namespace, one MAC
	cfg := tap.TAPConfig{Name: s.Address, Netns: s.Options["netns"], MaxFrame: b.opts.MaxFrame, Logger: b.log,
		MAC: tap.DefaultTAPMAC(host, where, s.Address, s.Name), MACIsDefault: true}
	if m, ok := s.Options["mac"]; ok {
		hw, err := net.ParseMAC(m)
		if err != nil {
			return nil, err
		}
		cfg.MAC, cfg.MACIsDefault = hw, false
	}
	if m, ok := s.Options["mtu"]; ok {
		n, err := strconv.Atoi(m)
		if err != nil {
			return nil, err
		}
		cfg.MTU, cfg.MTUIsDefault = n, s.mtuImplied
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
	if s.mtuImplied {
		opts["mtu"] = strconv.Itoa(dev.MTU()) // the device's own, if it kept it
	}
	b.spec.Options = opts
	warnFrameAboveMax(b.log, dev, b.opts.MaxFrame)
	_, given := s.Options["mtu"]
	given = given && !s.mtuImplied
	leave := mtuPeers.join(&mtuPeer{port: s.Name, device: s.Address, mtu: dev.MTU(), givenMTU: given, log: b.log})
	return &boundRunner{runnerBase: b, conn: &tapConn{TAPDevice: dev, leave: leave}, what: "TAP device", key: "device"}, nil
}

// warnFrameAboveMax warns when the device's frames (its MTU, as it was
// found or made, plus the Ethernet header) can be longer than the hub's
// maximum frame: those are dropped as oversize when read, the host is not
// told (no ICMP, no PMTU), and its TCP stalls. mtu= cannot cause it: it is
// checked against the maximum frame.
func warnFrameAboveMax(log *slog.Logger, dev *tap.TAPDevice, maxFrame int) {
	frame := dev.MTU() + hub.EthHeaderLen
	if frame <= maxFrame {
		return
	}
	how := fmt.Sprintf("raise the hub's maximum frame (--max-frame %d)", frame)
	if fit := maxFrame - hub.EthHeaderLen; fit >= tap.MinMTU {
		how = fmt.Sprintf("give the tap port mtu=%d, or %s", fit, how)
	}
	log.Warn(fmt.Sprintf("TAP device %s has MTU %d, so the host sends frames of up to %d bytes, more than the maximum frame %d: those will be dropped (oversize) and the host's TCP connections may stall; %s",
		dev.Name(), dev.MTU(), frame, maxFrame, how))
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
