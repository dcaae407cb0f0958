package checker

import (
	"fmt"
	"slices"
	"strings"

	"l2hub/conformance"
	"l2hub/hub"
)

// One frame checked. feed is the path every frame takes, from Feed or
// the live goroutine: it skips copies (dedupe.go), learns where senders are
// (addrmap.go), counts what it cannot check (fragments, bad checksums, cut
// frames) and frames the hub injected, reads the hub's notes on a frame and
// its egress copies to explain retransmissions (notes.go), and hands UDP to
// discovery (disc.go) and TCP to the connection table (conn.go, tcp.go).
// endChecks turns those counts into findings and asks discovery and TCP for
// theirs, when Report is called.

func (c *Checker) feed(f *Frame) {
	c.frames++
	if c.start.IsZero() {
		c.start = f.Time
	}
	if !f.Injected && f.Dir == DirEgress && injectedNotes(f.Why) {
		f.Injected = true
	}
	switch {
	case f.Injected:
		// The only copy: no dedupe, which would take another input's
		// frame with the same bytes (a replayed transcript is constant,
		// §3.3) for its copy, or this one for another's.
		c.countInjected(f)
	case f.Dir == DirIngress:
		c.ingress[f.Source] = true
		// Per-port files hold a frame as ingress in its sender's file and
		// as egress in another, which may have been checked first.
		if c.dedupe.duplicate(f.Data, f.Source, f.Time, false) {
			c.skipped++
			return
		}
	case f.Dir == DirEgress:
		if c.ingress[f.Source] {
			// The ingress copy was checked; what the hub did to this copy
			// may still explain retransmissions.
			c.skipped++
			c.egressCopy(f)
			return
		}
		fallthrough
	default:
		c.perVM = c.perVM || f.Source > 0
		if c.dedupe.duplicate(f.Data, f.Source, f.Time, true) {
			c.skipped++
			return
		}
	}
	c.checked++
	parsePacket(f.Data, &c.pkt)
	p := &c.pkt
	if f.Dir == DirIngress && !f.Injected && f.Port != "" {
		c.where.learn(f, p)
	}
	if f.Injected && !c.where.reaches(f, p) {
		c.countUnreached(f)
		return
	}
	if !f.Injected {
		c.disc.hear(p)
	}
	switch {
	case p.kind == pktOther:
		c.nonIP++
		if p.arpOp != 0 {
			c.disc.arp(f, p) // why a node sent no unicast announce
		}
		return
	case p.fragment:
		c.fragments++
		c.fragFrames = appendFrames(c.fragFrames, f.Number)
		return
	case p.badSum:
		c.badSums++
		c.badSumFrames = appendFrames(c.badSumFrames, f.Number)
		if p.kind == pktTCP && !p.cut && corrupted(c.why(f)) {
			c.tcp.dropped(f, p, causeCorrupt) // a copy the hub corrupted: its receiver discards it
		}
		return
	case p.cut:
		c.cutFrames++
		c.cutFrameNums = appendFrames(c.cutFrameNums, f.Number)
		return
	}
	switch p.kind {
	case pktUDP:
		c.udp(f, p)
	case pktTCP:
		if f.Dropped || c.droppedToReceiver(f, p) {
			c.tcp.dropped(f, p, causeLoss) // the peer never saw it: not part of the stream
			return
		}
		c.tcp.segment(f, p)
	}
}

// why returns f.Why. A live event's notes wait in its queue buffer
// (liveNotes) and become Why when first asked for, so an event whose notes
// the checker has no use for costs no allocation.
func (c *Checker) why(f *Frame) string {
	if f.Why == "" && len(c.liveNotes) > 0 {
		f.Why = string(c.liveNotes)
		c.liveNotes = nil
	}
	return f.Why
}

// maxInjectPorts bounds the ports whose injected frames are counted apart.
const maxInjectPorts = 8

type portCount struct {
	port   string
	n      int
	frames []int
	// unreached: of them, those no VM behind the port takes.
	unreached       int
	unreachedFrames []int
}

// injectedInto returns the count of the frames injected into port,
// adding it if need be.
func (c *Checker) injectedInto(port string) *portCount {
	i := slices.IndexFunc(c.injected, func(pc portCount) bool { return pc.port == port })
	if i < 0 && len(c.injected) >= maxInjectPorts {
		port = ""
		i = slices.IndexFunc(c.injected, func(pc portCount) bool { return pc.port == "" })
	}
	if i < 0 {
		i = len(c.injected)
		c.injected = append(c.injected, portCount{port: port})
	}
	return &c.injected[i]
}

func (c *Checker) countInjected(f *Frame) {
	pc := c.injectedInto(f.Port)
	pc.n++
	pc.frames = appendFrames(pc.frames, f.Number)
}

// countUnreached counts an injected frame that no VM behind its port
// takes.
func (c *Checker) countUnreached(f *Frame) {
	pc := c.injectedInto(f.Port)
	pc.unreached++
	pc.unreachedFrames = appendFrames(pc.unreachedFrames, f.Number)
}

// injectedNotes reports whether a capture comment carries hub.InjectNotes'
// note (an "inject" note of no link): the record of an injected frame.
func injectedNotes(why string) bool {
	if !strings.Contains(why, "inject") {
		return false
	}
	for _, n := range parseNotes(why) {
		if n.Action == hub.InjectNotes[0].Action && n.Link == "" {
			return true
		}
	}
	return false
}

// injectedAs is what findings add to the name of a frame's sender: which
// port the hub injected it into; "" for a frame a port sent.
func injectedAs(f *Frame) string {
	switch {
	case !f.Injected:
		return ""
	case f.Port == "":
		return " (injected)"
	}
	return " (injected into port " + f.Port + ")"
}

// droppedToReceiver reports whether the hub dropped an ingress frame on
// the link to its receiver, while delivering it elsewhere: a frame flooded
// to a third port (hub mode, an unknown destination) is not Dropped.
func (c *Checker) droppedToReceiver(f *Frame, p *packet) bool {
	if f.Dir != DirIngress || f.Injected || f.Port == "" || c.why(f) == "" {
		return false
	}
	to, ok := c.where.portOf(p.dstMAC)
	return ok && droppedOnLink(f.Why, f.Port, to)
}

// egressCopy reads the hub's notes on an egress copy of a frame checked
// at ingress: a copy dropped or corrupted (its receiver discards it) explains
// the retransmission to come, and a copy held long enough explains those
// its sender made meanwhile. Only the copy to the segment's receiver
// counts, where its port is known: a flooded copy to a third port changes
// nothing for the pair.
func (c *Checker) egressCopy(f *Frame) {
	if !f.Dropped && c.why(f) == "" {
		return
	}
	var p packet
	parsePacket(f.Data, &p)
	if p.kind != pktTCP || p.cut {
		return
	}
	if to, ok := c.where.portOf(p.dstMAC); ok && f.Port != "" && f.Port != to {
		return
	}
	if hold := heldFor(f.Why); hold > 0 {
		c.tcp.held(f, &p, hold)
	}
	switch {
	case f.Dropped && !p.badSum:
		c.tcp.dropped(f, &p, causeLoss)
	case !f.Dropped && p.badSum && corrupted(f.Why):
		c.tcp.dropped(f, &p, causeCorrupt)
	}
}

func (c *Checker) udp(f *Frame, p *packet) {
	switch {
	case p.dstPort == conformance.DiscoveryPort:
		c.disc.datagram(f, p)
	case p.srcPort == 67 && p.dstPort == 68:
		c.dhcpS++
		c.agg.add(Fail, NET001, p.src.String(), []int{f.Number},
			"DHCP server reply from %v: a node that takes a lease leaves cross-VM mode (and halts if 10.0.2.2 does not answer); the hub must not answer in the nexus profile", p.src)
	}
}

// endChecks adds the findings that only the end of the input settles.
func (c *Checker) endChecks(a *agg) {
	if n := c.lostCount(); n > 0 {
		c.liveMu.Lock()
		first := c.lostFirst
		c.liveMu.Unlock()
		a.add(Warn, CHK001, "", []int{first}, "the checker's queue was full: %s %s not checked, so findings may be incomplete", plural(n, "frame"), agree(n, "was", "were"))
	}
	if c.fragments > 0 {
		a.add(Warn, NET002, "", c.fragFrames, "%s %s not reassembled or checked", plural(c.fragments, "IP fragment"), agree(c.fragments, "was", "were"))
	}
	if c.badSums > 0 {
		a.add(Warn, NET003, "checksum", c.badSumFrames, "%s with a bad IPv4, UDP or TCP checksum %s ignored, as their receiver would (corrupted, or captured before checksum offload)", plural(c.badSums, "frame"), agree(c.badSums, "was", "were"))
	}
	if c.cutFrames > 0 {
		a.add(Warn, NET003, "snaplen", c.cutFrameNums, "%s %s cut by the capture's snaplen and not checked", plural(c.cutFrames, "frame"), agree(c.cutFrames, "was", "were"))
	}
	if c.notEther > 0 {
		a.add(Warn, NET003, "link", c.notEtherFrames, "%s %s not Ethernet and %s not checked", plural(c.notEther, "packet"), agree(c.notEther, "is", "are"), agree(c.notEther, "was", "were"))
	}
	for _, pc := range c.injected {
		into := "into port " + pc.port
		if pc.port == "" {
			into = "into unnamed or further ports"
		}
		unreached := ""
		if pc.unreached > 0 {
			unreached = fmt.Sprintf("; %d of them reached no one and %s not checked (below)", pc.unreached, agree(pc.unreached, "was", "were"))
		}
		a.add(Info, CHK002, pc.port, pc.frames, "the hub injected %s %s (l2hub inject, the control API; a replay sends those of its run again): no VM sent them, so each is checked as sent by the addresses it carries and received by the VMs behind that port it is addressed to, and findings name its sender as injected%s",
			plural(pc.n, "frame"), into, unreached)
		if pc.unreached > 0 {
			a.add(Warn, CHK002, "unreached "+pc.port, pc.unreachedFrames, "%s injected %s %s for no VM behind it (addressed to another port's MAC or address, or its sender's own, sent back to it): their NICs or IP stacks drop them, so no one received them and they were not checked",
				plural(pc.unreached, "frame"), into, agree(pc.unreached, "was", "were"))
		}
	}
	if w := &c.where; w.full > 0 {
		a.add(Info, CHK003, "", []int{w.fullFrame}, "%s came from senders the checker's address map had no room for (it keeps every address of 10.42.0.0/24, %d MACs that send from it, %d other MACs and %d other addresses): their port is not known, so a drop on the link to them is not told from a delivery, and an injected frame to them is judged as one to a VM not seen yet",
			plural(w.full, "frame"), maxLanMACs, maxOtherMACs, maxAddrs)
	}
	c.disc.end(a)
	c.tcp.end(a)
}
