package hub

// This file holds the core's learning table (ModeSwitch): which port each
// source MAC was last seen on (learn), its aging and bound, and the log of
// a MAC that moves between ports (logMove), which names the likely cause.
// Ingress (forward.go) looks destinations up in it.

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultAgingTime is how long a learned MAC stays valid without traffic
// (802.1D's default).
const DefaultAgingTime = 300 * time.Second

// DefaultMaxMACs bounds the learning table, so a peer that sprays source
// addresses cannot grow the hub's memory without limit.
const DefaultMaxMACs = 4096

type macEntry struct {
	port PortID
	seen time.Duration // since the core's epoch
}

func (c *Core) learn(src macKey, port PortID, now time.Duration) {
	if src.group() { // a group address is never a valid source
		return
	}
	if now >= c.nextSweep {
		c.sweep(now)
	}
	// One lookup on the hot path: entries are updated in place.
	if e, ok := c.macs[src]; ok {
		if e.port != port {
			c.macMoves++
			c.ports[port].stats.MACMoves.Add(1)
			c.logMove(src, e.port, port, now)
			e.port = port
		}
		e.seen = now
		return
	}
	if len(c.macs) >= c.maxMACs {
		return // table full: keep flooding for this source until entries age out
	}
	c.macs[src] = &macEntry{port: port, seen: now}
}

// moveKey is a MAC and the two ports it moved between, the lower ID first.
type moveKey struct {
	mac    macKey
	lo, hi PortID
}

// maxMoveWarnings bounds the MAC moves logged at WARN (one per MAC and
// pair of ports) in each moveWarnPeriod, and so the memory that remembers
// them: on a long-running hub, VMs reassigned to other ports do not use up
// the warnings a duplicate MAC found later needs.
const maxMoveWarnings = 16

// moveWarnPeriod is how often the MAC moves logged at WARN are forgotten,
// on the core's clock.
const moveWarnPeriod = time.Minute

// logMove says that src, learned on from, came in on to, at now (since
// epoch). The first move of a MAC between two ports in a moveWarnPeriod is
// a WARN naming the likely causes: a VM that moved (or was restarted on
// another port), or two VMs on QEMU's default MAC (52:54:00:12:34:56, for
// every NIC not given mac=), which flip-flop between their ports, so that
// each one's unicasts to the other come back to its own port and are
// dropped as reflect. Later moves of that MAC between those ports, and
// moves past maxMoveWarnings, log at DEBUG: the ports' MACMoves count them
// all.
func (c *Core) logMove(src macKey, from, to PortID, now time.Duration) {
	if now-c.movesSince >= moveWarnPeriod {
		clear(c.movesWarned)
		c.movesSince = now
	}
	k := moveKey{mac: src, lo: min(from, to), hi: max(from, to)}
	if _, ok := c.movesWarned[k]; ok || len(c.movesWarned) >= maxMoveWarnings {
		// The arguments allocate: build them only when DEBUG is on, as a
		// MAC that flip-flops moves on every frame.
		if c.log.Enabled(context.Background(), slog.LevelDebug) {
			c.log.Debug("mac moved", "mac", fmtMAC(src.mac()), "from", c.PortName(from), "to", c.PortName(to))
		}
		return
	}
	if c.movesWarned == nil {
		c.movesWarned = make(map[moveKey]struct{})
	}
	c.movesWarned[k] = struct{}{}
	mac := fmtMAC(src.mac())
	c.log.Warn(fmt.Sprintf("MAC %s seen on port %s, then on port %s: a VM that moved there, or two VMs sharing MAC %s, whose unicasts to each other are dropped as reflect; "+
		"in that case give each VM its own MAC (-device virtio-net-pci,netdev=...,mac=52:54:00:12:34:0N; QEMU gives every NIC 52:54:00:12:34:56 unless told)",
		mac, c.PortName(from), c.PortName(to), mac),
		"mac", mac, "from", c.PortName(from), "to", c.PortName(to))
}

func (c *Core) sweep(now time.Duration) {
	for mac, e := range c.macs {
		if now-e.seen > c.aging {
			delete(c.macs, mac)
		}
	}
	c.nextSweep = now + c.aging/2
}

// MACMoves returns how many times a learned MAC has moved between ports.
func (c *Core) MACMoves() uint64 { return c.macMoves }

// LearnedPort returns the port a MAC is learned on, if it is and has not aged out.
func (c *Core) LearnedPort(mac [6]byte) (PortID, bool) {
	e, ok := c.macs[macKeyOf(mac[:])]
	if !ok || c.clock.Now().Sub(c.epoch)-e.seen > c.aging {
		return NoPort, false
	}
	return e.port, true
}

// macKey is a MAC address as a map key: the six bytes in the low 48 bits of
// a uint64, which hashes faster than a [6]byte.
type macKey uint64

func macKeyOf(b []byte) macKey {
	_ = b[5]
	return macKey(b[0])<<40 | macKey(b[1])<<32 | macKey(b[2])<<24 | macKey(b[3])<<16 | macKey(b[4])<<8 | macKey(b[5])
}

func (k macKey) mac() [6]byte {
	return [6]byte{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
}

// group reports whether the address is multicast or broadcast (the I/G bit).
func (k macKey) group() bool { return k>>40&1 != 0 }

func fmtMAC(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
