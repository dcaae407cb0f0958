//go:build linux

package tap_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"l2hub/hub"
	"l2hub/tap"
)

// TestOpenTAPRefusesBadConfig: OpenTAP refuses a configuration it cannot
// honour before it touches the system (no root needed), and says which
// value is wrong.
func TestOpenTAPRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  tap.TAPConfig
		want string
	}{
		{"multicast-mac", tap.TAPConfig{MAC: net.HardwareAddr{0x03, 0, 0, 0, 0, 1}}, "MAC 03:00:00:00:00:01: want a unicast Ethernet address"},
		{"zero-mac", tap.TAPConfig{MAC: make(net.HardwareAddr, 6)}, "MAC 00:00:00:00:00:00: want a unicast Ethernet address"},
		{"short-mac", tap.TAPConfig{MAC: net.HardwareAddr{0x02, 0, 0, 0, 1}}, "want a unicast Ethernet address"},
		{"ipv6-addr", tap.TAPConfig{Addr: netip.MustParsePrefix("fd00::1/64")}, "address fd00::1/64: want IPv4"},
		{"max-frame-under-header", tap.TAPConfig{MaxFrame: hub.EthHeaderLen - 1}, fmt.Sprintf("maximum frame 13 outside 14..%d", hub.MaxFrameLimit)},
		{"max-frame-over-limit", tap.TAPConfig{MaxFrame: hub.MaxFrameLimit + 1}, fmt.Sprintf("maximum frame %d outside", hub.MaxFrameLimit+1)},
		{"mtu-one-over-max-frame", tap.TAPConfig{MTU: 1500, MaxFrame: 1513}, "MTU 1500 makes frames of 1514 bytes, longer than the maximum frame 1513"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "l2hcfg0" // never created: the check comes first
			d, err := tap.OpenTAP(tc.cfg)
			if err == nil {
				d.Close()
				t.Fatalf("got OpenTAP(%+v) = nil error, want %q", tc.cfg, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "TAP device l2hcfg0") {
				t.Errorf("got OpenTAP error %q, want it to name the device and say %q", err, tc.want)
			}
		})
	}
}
