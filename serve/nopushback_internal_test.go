package serve

import (
	"testing"

	"l2hub/transport"
)

// TestNoPushbackTransports: the ports whose VM cannot be pushed back are
// those whose kernel drops rather than blocks the sender. A TAP device is
// one: the tun driver drops what its ring cannot hold (tx_dropped), so
// pausing it would move its loss out of the hub's sight.
func TestNoPushbackTransports(t *testing.T) {
	for _, tc := range []struct {
		t    transport.Transport
		want bool
	}{
		{transport.TCP, false},
		{transport.TCPDial, false},
		{transport.Unix, false},
		{transport.UnixDial, false},
		{transport.Unixgram, false},
		{transport.UDP, true},
		{transport.Mcast, true},
		{transport.VXLAN, true},
		{transport.TAP, true},
	} {
		if got := noPushback(tc.t); got != tc.want {
			t.Errorf("got noPushback(%s) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
