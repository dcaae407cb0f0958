package serve

import (
	"context"
	"fmt"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

// noPeerAfter is how long a listening port may go without its first VM,
// while frames meant for it are dropped as port-down, before the session
// says why that may be: a QEMU started before the hub.
const noPeerAfter = 5 * time.Second

// noPeerHint is what to say about a port that listens for its VM, has
// never had one and has dropped frames for want of one; "" otherwise. A
// QEMU whose connect= (server=off) found no hub yet boots with a dead NIC
// and, before QEMU 8.0 or without reconnect=, never tries again.
func noPeerHint(spec transport.Spec, st hub.StatsSnapshot) string {
	var dial transport.Transport
	switch spec.Transport {
	case transport.TCP:
		dial = transport.TCPDial
	case transport.Unix:
		dial = transport.UnixDial
	default:
		return ""
	}
	down := st.Drops[hub.DropDown.String()]
	if st.Attaches > 0 || down == 0 {
		return ""
	}
	return fmt.Sprintf("port %s: no VM has connected, and %d frames for it were dropped (port-down); "+
		"a QEMU started before the hub does not retry its connect (before QEMU 8.0, or without reconnect=): "+
		"start it after the hub, give it reconnect-ms=1000 (QEMU 9.2 and later; reconnect=1 on 8.0 to 9.1), "+
		"or let QEMU listen (server=on) and give the hub --port %s=%s:...",
		spec.Name, down, spec.Name, dial)
}

// watchNoPeers logs noPeerHint once per port, at each tick (every
// noPeerAfter; Options.noPeerTick in tests), until ctx ends.
func (s *Session) watchNoPeers(ctx context.Context, tick <-chan time.Time) {
	said := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		for _, h := range s.noPeerHints() {
			if !said[h.port] {
				said[h.port] = true
				s.log.Warn(h.text, "port", h.port)
			}
		}
	}
}

type portHint struct{ port, text string }

// noPeerHints are the hints for the configured ports, in config order.
func (s *Session) noPeerHints() []portHint {
	var out []portHint
	for _, r := range s.runners {
		spec := r.Spec()
		for _, st := range s.stats {
			if st.Name != spec.Name {
				continue
			}
			if h := noPeerHint(spec, st.Stats.Snapshot()); h != "" {
				out = append(out, portHint{spec.Name, h})
			}
		}
	}
	return out
}
