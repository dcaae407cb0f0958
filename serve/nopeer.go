package serve

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"l2hub/hub"
	"l2hub/transport"
)

// noPeerAfter is how long frames meant for a listening port that has
// never had a VM must have been dropped as port-down (since the first
// such drop was seen) before the session says why that may be: a QEMU
// started before the hub, or one not started yet.
const noPeerAfter = 5 * time.Second

// noPeerPoll is how often the session looks for such ports: the hint
// comes between noPeerAfter and noPeerAfter+noPeerPoll after the first
// drop.
const noPeerPoll = time.Second

// noPeerHint is what to say about a port that listens for its VM, has
// never had one and has dropped frames for want of one; "" otherwise. A
// QEMU whose connect= (server=off) found no hub yet boots with a dead NIC
// and, before QEMU 8.0 or without reconnect=, never tries again; but the
// VM may just not have been started yet, so the cause is put as an "if".
// While the port's accepts fail (failing, not nil: out of file
// descriptors), the VM may well have connected and wait in the kernel's
// backlog: the hint says that instead, and blames no QEMU.
func noPeerHint(spec transport.Spec, st hub.StatsSnapshot, failing *transport.AcceptFailure) string {
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
	frames := "frames"
	if down == 1 {
		frames = "frame"
	}
	if failing != nil {
		fix := "a VM that connected waits in the listen backlog until an accept succeeds"
		switch {
		case errors.Is(failing.Err, syscall.EMFILE):
			fix += ": the hub is out of file descriptors; raise its limit (ulimit -n, or LimitNOFILE= for a service)"
		case errors.Is(failing.Err, syscall.ENFILE):
			fix += ": the system is out of file descriptors (fs.file-max)"
		}
		return fmt.Sprintf("no VM has attached to port %s yet, and %d %s for it were dropped (port-down), "+
			"but the hub cannot accept connections on it: every accept since %s failed (%v); %s",
			spec.Name, down, frames, failing.Since.Format("15:04:05"), failing.Err, fix)
	}
	return fmt.Sprintf("no VM has attached to port %s yet, and %d %s for it were dropped (port-down): "+
		"if its QEMU started before the hub, it does not retry its connect (before QEMU 8.0, or without reconnect=): "+
		"restart it, give it reconnect-ms=1000 (QEMU 9.2 and later; reconnect=1 on 8.0 to 9.1), "+
		"or let QEMU listen (server=on) and give the hub --port %s=%s:...; otherwise start it",
		spec.Name, down, frames, spec.Name, dial)
}

// watchNoPeers logs noPeerHint once per port, once the port has had one
// for noPeerAfter, until ctx ends. It looks at each tick (every
// noPeerPoll; Options.noPeerTick in tests) and takes the time a tick
// carries for the time: when it first saw a port's hint, and how long
// since.
func (s *Session) watchNoPeers(ctx context.Context, tick <-chan time.Time) {
	said := map[string]bool{}
	since := map[string]time.Time{}
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick:
		}
		for _, h := range s.noPeerHints() {
			first, seen := since[h.port]
			if !seen {
				since[h.port] = now
				continue
			}
			// Each hint once per port: the one about failing accepts,
			// and the one about QEMU should the accepts recover with no
			// VM waiting.
			key := h.port
			if h.accepting {
				key += "\x00accept"
			}
			if !said[key] && now.Sub(first) >= noPeerAfter {
				said[key] = true
				s.log.Warn(h.text, "port", h.port)
			}
		}
	}
}

type portHint struct {
	port, text string
	accepting  bool // the hint is about failing accepts (transport.AcceptFailing)
}

// noPeerHints are the hints for the configured ports, in config order.
func (s *Session) noPeerHints() []portHint {
	var out []portHint
	for _, r := range s.runners {
		spec := r.Spec()
		for _, st := range s.stats {
			if st.Name != spec.Name {
				continue
			}
			var failing *transport.AcceptFailure
			if f, ok := transport.AcceptFailing(r); ok {
				failing = &f
			}
			if h := noPeerHint(spec, st.Stats.Snapshot(), failing); h != "" {
				out = append(out, portHint{spec.Name, h, failing != nil})
			}
		}
	}
	return out
}
