package transport

import (
	"fmt"
	"log/slog"
	"sync"

	"l2hub/hub"
)

// The one thing a process's tap and vxlan ports share: the check that no
// TAP device has a larger MTU than a VXLAN port carries. It sits apart
// from both because either may open first: OpenVXLAN and a tap port's
// runner (tap_linux.go) each join it as they open and leave as they close.

// mtuPeers holds this process's open tap and vxlan ports, so that a TAP
// device whose MTU is more than a VXLAN port carries is warned of, in
// whichever order the two open: the hub creates a TAP device at 1500, and
// on a segment with a VXLAN port on a 1500-byte underlay the host's frames
// past 1464 bytes would be dropped (oversize), with TCP stalling.
var mtuPeers mtuPeerSet

type mtuPeerSet struct {
	mu    sync.Mutex
	peers map[*mtuPeer]bool
}

// mtuPeer is one open port: a TAP device (its MTU) or a VXLAN port (the
// MTU its segment's hosts need, 50 bytes under the underlay's).
type mtuPeer struct {
	port     string
	vxlan    bool
	mtu      int
	device   string // a TAP device's name
	givenMTU bool   // the tap port has mtu=
	log      *slog.Logger
}

// join adds p, warning on p's log of each TAP device, p or one already
// open, whose MTU is above a VXLAN port's, and returns how p leaves.
func (s *mtuPeerSet) join(p *mtuPeer) (leave func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peers == nil {
		s.peers = map[*mtuPeer]bool{}
	}
	for q := range s.peers {
		if q.vxlan == p.vxlan {
			continue
		}
		t, x := p, q
		if p.vxlan {
			t, x = q, p
		}
		if t.mtu <= x.mtu {
			continue
		}
		how := fmt.Sprintf("give the tap port mtu=%d, or `ip link set %s mtu %d`", x.mtu, t.device, x.mtu)
		if t.givenMTU {
			how = fmt.Sprintf("lower its mtu= to %d", x.mtu)
		}
		p.log.Warn(fmt.Sprintf("TAP device %s (port %q) has MTU %d, more than the %d that VXLAN port %q carries: the host's frames over %d bytes will be dropped there (oversize) and its TCP connections may stall; %s",
			t.device, t.port, t.mtu, x.mtu, x.port, x.mtu+hub.EthHeaderLen, how))
	}
	s.peers[p] = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.peers, p)
	}
}
