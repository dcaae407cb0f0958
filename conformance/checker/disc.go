package checker

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"l2hub/conformance"
)

// Discovery bounds.
const (
	maxDevices   = 64
	maxSources   = 64
	maxPorts     = 32
	maxGapSample = 1024
	// stormRounds announce rounds within stormWindow is a storm: the OS
	// announces at most once per 64 ms pass (more only when a pass repeats
	// within a millisecond).
	stormRounds = 8
	stormWindow = 64 * time.Millisecond
)

var (
	discoveryMAC = [6]byte{0x01, 0x00, 0x5e, 0x2a, 0x00, 0x01}
	lanPrefix    = netip.MustParsePrefix("10.42.0.0/24")
)

// discDevice is what the announces of one device id said.
type discDevice struct {
	id string
	// said is what the announces said, by sender: the VMs' (0), and the
	// hub's injected ones (1), which are not the device's own behaviour.
	said      [2]devSaid
	milestone bool
	// learned is the last unicast copy to the peer, or broadcast, the hub
	// delivered to it: what the peer caches (it drops the multicast copy),
	// whoever sent it.
	learned      bool
	learnedAddr  netip.Addr
	learnedPort  uint16
	learnedKey   [32]byte
	learnedFrame int
}

// devSaid is the first announce of a device by one kind of sender, and
// whether a later one changed it (DISC-004).
type devSaid struct {
	seen       bool
	firstFrame int
	key        [32]byte
	port       uint16
	changed    bool
}

// srcKey is an announcing address, apart for the frames injected with it:
// the injector is not the VM at that address.
type srcKey struct {
	ip       netip.Addr
	injected bool
}

// who names the sender for findings.
func (k srcKey) who() string {
	if k.injected {
		return roleName(k.ip) + " (injected)"
	}
	return roleName(k.ip)
}

// subject is the findings' subject for the sender.
func (k srcKey) subject() string {
	if k.injected {
		return "injected " + k.ip.String()
	}
	return k.ip.String()
}

// discSource is one announcing address.
type discSource struct {
	ip                  netip.Addr
	firstFrame          int
	mcast, ucast, bcast int
	rounds              timeline // multicast copies; unicast ones if no multicast
	uRounds             timeline
	repeats             [2]repeats // NX-10, of unicast (0) and multicast (1) copies
	// mcastResolved counts the multicast copies sent once the sender had
	// its peer's MAC (arpState.resolved).
	mcastResolved int
}

// repeats counts announces that repeat the one before of the same kind.
type repeats struct {
	seen   bool
	last   uint64 // the hash of the last announce of the kind
	n      int
	frames []int
}

func (r *repeats) add(sum uint64, frame int) {
	if r.seen && sum == r.last {
		r.n++
		r.frames = appendFrames(r.frames, frame)
	}
	r.seen, r.last = true, sum
}

// timeline keeps cadence statistics of a series of events.
type timeline struct {
	n          int
	last       time.Time
	recent     [stormRounds]time.Time
	gaps       []time.Duration
	min, max   time.Duration
	storms     int
	stormFrame int
}

func (t *timeline) add(at time.Time, frame int) {
	t.n++
	if at.IsZero() {
		return
	}
	if !t.last.IsZero() {
		g := at.Sub(t.last)
		if len(t.gaps) < maxGapSample {
			t.gaps = append(t.gaps, g)
		}
		if t.min == 0 || g < t.min {
			t.min = g
		}
		t.max = max(t.max, g)
	}
	t.last = at
	i := t.n % stormRounds
	if old := t.recent[i]; !old.IsZero() && at.Sub(old) < stormWindow {
		if t.storms == 0 {
			t.stormFrame = frame
		}
		t.storms++
	}
	t.recent[i] = at
}

func (t *timeline) median() time.Duration {
	if len(t.gaps) == 0 {
		return 0
	}
	g := slices.Clone(t.gaps)
	slices.Sort(g)
	return g[len(g)/2]
}

// arpState is what ARP on the wire says of one address's unicast peer
// (peerOf): a node sends its unicast announce only once it has the peer's
// MAC, so without it the copy never reaches the wire (smoltcp drops the
// datagram and asks again; Linux queues it).
type arpState struct {
	// asked counts its requests for the peer's address, firstAsk is the
	// first; askLost those the hub did not deliver to the peer.
	asked, firstAsk, askLost int
	// repliesLost counts the peer's replies the hub did not deliver to it.
	repliesLost int
	// resolved: an ARP packet from the peer to it (a reply, or a request
	// for it, whose sender a node caches) reached it, first at resolvedAt.
	resolved   bool
	resolvedAt int
}

type discovery struct {
	c         *Checker
	devices   map[string]*discDevice
	devOrder  []string
	sources   map[srcKey]*discSource
	srcOrder  []srcKey
	nodeB     []srcKey // addresses that announced node-b, in order
	announces int
	ports     map[uint16]bool
	tooMany   int
	nx07      bool
	// arps is ARP's word on the peers of the subnet's addresses, at most
	// maxSources of them; heardA and heardB: node-a's and node-b's
	// addresses sent a frame (IP or ARP), whether or not the hub
	// delivered it.
	arps           map[netip.Addr]*arpState
	heardA, heardB bool
}

func (d *discovery) init(c *Checker) {
	d.c = c
	d.devices = map[string]*discDevice{}
	d.sources = map[srcKey]*discSource{}
	d.arps = map[netip.Addr]*arpState{}
	d.ports = map[uint16]bool{conformance.SessionPortA: true, conformance.SessionPortB: true}
}

// isSessionPort reports whether a TCP port is one the nodes listen on: the
// OS's two, and every port an announce named.
func (d *discovery) isSessionPort(p uint16) bool { return d.ports[p] }

// peerOf is the unicast peer the OS hard-codes for a sender.
func peerOf(src netip.Addr) netip.Addr {
	if src == conformance.RoleA.Addr() {
		return conformance.RoleB.Addr()
	}
	return conformance.RoleA.Addr()
}

// osAddr is the address the OS takes for a MAC: 10.42.0.mac[5], 0
// becoming 1 (nexus-wire §1).
func osAddr(mac [6]byte) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 42, 0, max(mac[5], 1)})
}

func isBroadcast(p *packet) bool {
	return p.dstMAC == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} || ipBroadcast(p.dst)
}

// ipBroadcast reports whether dst is an IPv4 broadcast address a node on
// the segment takes as its own: 255.255.255.255 or the /24's 10.42.0.255
// (smoltcp's is_broadcast_v4).
func ipBroadcast(dst netip.Addr) bool {
	return dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || (lanPrefix.Contains(dst) && dst.As4()[3] == 255)
}

// peerLearns reports whether the node the announce's sender calls its
// peer took the datagram and learns it (§2.4): a unicast copy to the
// hard-coded peer, or an IP broadcast on an Ethernet group address (which
// the hub floods to every port) or on the peer's MAC. smoltcp accepts
// broadcasts on the socket bound to <own IP>:37020 (socket/udp.rs
// accepts(); nexus-wire §2.1 says only unicast is learned, which holds for
// multicast alone), so every node learns a broadcast announce. The
// multicast copy is dropped (no IGMP), and so is a frame the hub did not
// deliver to the peer: Dropped, dropped on the link to the peer's port
// while flooded elsewhere, or injected into another port than the peer's
// (the port each is on is learned from its own frames; unknown, the frame
// is taken to reach it).
func (d *discovery) peerLearns(f *Frame, p *packet, multicast bool) bool {
	peer := peerOf(p.src)
	if multicast || (p.dst != peer && !(ipBroadcast(p.dst) && (p.dstMAC[0]&1 != 0 || d.c.where.macOf(peer, p.dstMAC)))) {
		return false
	}
	return d.reaches(f, peer)
}

// reaches reports whether the hub delivered f to the VM at to: not
// Dropped, nor dropped on the link to its port, nor injected into another
// port (where to's port is not known, the frame is taken to reach it).
func (d *discovery) reaches(f *Frame, to netip.Addr) bool {
	if f.Dropped {
		return false
	}
	at, known := d.c.where.portOfAddr(to)
	switch {
	case !known || f.Port == "":
		return true
	case f.Injected || f.Dir == DirEgress:
		return at == f.Port // f.Port is the receiver's
	}
	return !droppedOnLink(d.c.why(f), f.Port, at)
}

// hear notes that a frame came from node-a's or node-b's address.
func (d *discovery) hear(p *packet) {
	for _, ip := range [2]netip.Addr{p.src, p.arpSender} {
		switch ip {
		case conformance.RoleA.Addr():
			d.heardA = true
		case conformance.RoleB.Addr():
			d.heardB = true
		}
	}
}

// heard reports whether a frame came from ip, node-a's or node-b's address.
func (d *discovery) heard(ip netip.Addr) bool {
	return ip == conformance.RoleA.Addr() && d.heardA || ip == conformance.RoleB.Addr() && d.heardB
}

// arp follows an ARP packet between an address of the subnet and its
// peer: a request for the peer (the hub's injected ones are not the
// address's own), or a packet from the peer that gives the address the
// peer's MAC if it reaches it.
func (d *discovery) arp(f *Frame, p *packet) {
	s, t := p.arpSender, p.arpTarget
	if p.arpOp == 1 && !f.Injected && lanPrefix.Contains(s) && t == peerOf(s) {
		if r := d.arpOf(s); r != nil {
			if r.asked == 0 {
				r.firstAsk = f.Number
			}
			r.asked++
			if !d.reaches(f, t) {
				r.askLost++
			}
		}
	}
	if lanPrefix.Contains(t) && s == peerOf(t) && t != s {
		r := d.arpOf(t)
		switch {
		case r == nil:
		case d.reaches(f, t):
			if !r.resolved {
				r.resolved, r.resolvedAt = true, f.Number
			}
		case p.arpOp == 2:
			r.repliesLost++
		}
	}
}

// arpOf returns ip's arpState, adding it if there is room.
func (d *discovery) arpOf(ip netip.Addr) *arpState {
	r := d.arps[ip]
	if r == nil && len(d.arps) < maxSources {
		r = &arpState{}
		d.arps[ip] = r
	}
	return r
}

// datagram checks one UDP datagram to port 37020. An injected one is
// judged as its source address's, under subjects of its own
// ("injected 10.42.0.10"), and its findings say so.
func (d *discovery) datagram(f *Frame, p *packet) {
	a := d.c.agg
	d.announces++
	src := p.src
	key := srcKey{src, f.Injected}
	who := roleName(src) + injectedAs(f)
	fr := []int{f.Number}
	s := d.source(key, f.Number)
	subj := func(what string) string { return what + key.subject() }

	// Transport and destination (DISC-006).
	if p.srcPort != conformance.DiscoveryPort {
		a.add(Fail, DISC006, subj("sport "), fr, "announce from %v:%d%s: the OS binds and sends from port 37020", src, p.srcPort, injectedAs(f))
	}
	multicast := false
	switch {
	case p.dst == conformance.DiscoveryGroup:
		multicast = true
		s.mcast++
		s.rounds.add(f.Time, f.Number)
		if r := d.arps[src]; r != nil && r.resolved && !f.Injected {
			s.mcastResolved++
		}
		if p.dstMAC != discoveryMAC {
			a.add(Fail, DISC006, subj("mcast-mac "), fr, "announce to 239.42.0.1 from %s has destination MAC %v, want 01:00:5e:2a:00:01", who, macString(p.dstMAC))
		}
	case p.dst.IsMulticast():
		multicast = true
		s.mcast++
		a.add(Fail, DISC006, subj("group "), fr, "announce from %s to group %v: the OS's group is 239.42.0.1", who, p.dst)
	case isBroadcast(p):
		s.bcast++
		learns := ""
		if d.peerLearns(f, p, false) {
			learns = "; its peer learns it all the same, as it does a unicast copy (smoltcp accepts broadcasts)"
		}
		a.add(Fail, DISC006, subj("bcast "), fr, "announce from %s broadcast to %v: the OS never broadcasts (NX-09)%s", who, p.dst, learns)
	default:
		s.ucast++
		s.uRounds.add(f.Time, f.Number)
		if want := peerOf(src); p.dst != want {
			a.add(Warn, DISC006, subj("ucast "), fr, "unicast announce from %s to %v: the OS sends its unicast copy to the hard-coded peer %v", who, p.dst, want)
		}
	}

	// Size (DISC-002). The size is part of the subject: a finding keeps
	// its first message, and a 600-byte announce's message is wrong for a
	// 268-byte one.
	n := len(p.payload)
	switch {
	case n > conformance.DatagramDropThreshold:
		a.add(Fail, DISC002, subj(fmt.Sprintf("size %d ", n)), fr, "announce of %d bytes from %s: the OS sends at most 256, and a receiver drops datagrams above 512", n, who)
	case n > conformance.AnnounceSendLimit:
		a.add(Fail, DISC002, subj(fmt.Sprintf("size %d ", n)), fr, "announce of %d bytes from %s: the OS sends at most 256 (receivers read only the first 256)", n, who)
	default:
		a.pass(DISC002, f.Number)
	}

	// Source address (DISC-003).
	want := osAddr(p.srcMAC)
	h := want.As4()[3]
	macOK := src == want
	switch {
	case !macOK:
		a.add(Fail, DISC003, key.subject(), fr, "announce from %v%s, but MAC %v gives 10.42.0.%d (0 becomes 1; nexus-wire §1)", src, injectedAs(f), macString(p.srcMAC), h)
	case h == 0xff:
		a.add(Warn, DISC003, key.subject(), fr, "MAC %v gives 10.42.0.255, the subnet's broadcast address", macString(p.srcMAC))
	default:
		a.pass(DISC003, f.Number)
	}

	// NX-10: nothing in an announce changes between rounds. A round's
	// multicast and unicast copies are identical by design (§2.1), so
	// repeats are counted per kind of copy: the kinds need not alternate
	// (a Linux guest queues its unicast copies until ARP resolves, then
	// sends them in a burst).
	kind := 0
	if multicast {
		kind = 1
	}
	s.repeats[kind].add(fnv64a(p.payload), f.Number)

	// Decoding (DISC-001), as dsoftbusd receives it.
	if n > conformance.DatagramDropThreshold {
		return // never reaches dsoftbusd; DISC-002 said so
	}
	ann, err := conformance.ParseReceivedAnnounce(p.payload)
	if err != nil {
		class := errorClass(err)
		msg := fmt.Sprintf("announce from %s does not decode (%s): %v", who, class, err)
		if _, full := conformance.ParseAnnounce(p.payload); full == nil {
			msg = fmt.Sprintf("announce from %s runs past the 256 bytes dsoftbusd reads, so it decodes as truncated", who)
		}
		// The subject is the message itself, not the error's class: a
		// device id of length 0 and 17 services are both "length out of
		// range", and one message would misstate the other.
		a.add(Fail, DISC001, msg+" "+key.subject(), fr, "%s", msg)
		return
	}
	a.pass(DISC001, f.Number)
	d.identity(f, p, ann, d.peerLearns(f, p, multicast), macOK)
	d.c.tcp.announceFrom(src, f)
}

// identity checks what an announce claims (DISC-004, DISC-005, DISC-009)
// and, if its peer learns it, learns it as the peer does.
func (d *discovery) identity(f *Frame, p *packet, ann conformance.Announce, learns, ok bool) {
	a := d.c.agg
	fr := []int{f.Number}
	src := p.src
	inj, tag := injectedAs(f), ""
	if f.Injected {
		tag = "injected "
	}

	role, known := conformance.Role(0), false
	switch ann.DeviceID {
	case conformance.RoleA.String():
		role, known = conformance.RoleA, true
		if src != conformance.RoleA.Addr() {
			ok = false
			a.add(Fail, DISC005, tag+"role node-a "+src.String(), fr, "node-a announced from %v%s: the OS names 10.42.0.10 node-a and every other address node-b", src, inj)
		}
	case conformance.RoleB.String():
		role, known = conformance.RoleB, true
		if src == conformance.RoleA.Addr() {
			ok = false
			a.add(Fail, DISC005, tag+"role node-b "+src.String(), fr, "node-b announced from 10.42.0.10%s: the OS names that address node-a", inj)
		}
	default:
		ok = false
		a.add(Warn, DISC005, tag+"id "+ann.DeviceID, fr, "announce from %v%s names device %q: the OS names itself node-a or node-b", src, inj, ann.DeviceID)
	}
	if known {
		if want := bringUpStatic(role); ann.Static != want {
			ok = false
			a.add(Fail, DISC005, tag+"key "+ann.DeviceID+" "+short(ann.Static), fr, "%s%s announces key %s, but its bring-up key is %s (derive_test_secret(%#x, %d)): node-a logs \"identity mismatch peer=crossvm\" and will not handshake",
				ann.DeviceID, inj, short(ann.Static), short(want), staticTag(role), role.ListenPort())
		} else if d.c.opts.Profile == ProfileNexus && !d.nx07 {
			d.nx07 = true
			a.add(Info, NX07, "", fr, "static keys are the bring-up keys derive_test_secret(D0, 34567) and (D1, 34568), not RFC-0008's test tags A0/B0/C0/D0")
		}
		if ann.Port != role.ListenPort() {
			a.add(Warn, DISC005, tag+"port "+ann.DeviceID, fr, "%s%s announces session port %d, the OS's is %d", ann.DeviceID, inj, ann.Port, role.ListenPort())
		}
		if ok {
			a.pass(DISC005, f.Number)
		}
	}

	dev := d.devices[ann.DeviceID]
	if dev == nil {
		if len(d.devices) >= maxDevices {
			d.tooMany++
			return
		}
		dev = &discDevice{id: ann.DeviceID}
		d.devices[ann.DeviceID] = dev
		d.devOrder = append(d.devOrder, ann.DeviceID)
	}
	said := &dev.said[0]
	if f.Injected {
		said = &dev.said[1]
	}
	switch {
	case !said.seen:
		*said = devSaid{seen: true, firstFrame: f.Number, key: ann.Static, port: ann.Port}
	case ann.Static != said.key || ann.Port != said.port:
		said.changed = true
		ok = false
		a.add(Fail, DISC004, tag+"change "+ann.DeviceID, []int{said.firstFrame, f.Number}, "%s%s changed its announce: frame %d said key %s port %d, this one key %s port %d",
			ann.DeviceID, inj, said.firstFrame, short(said.key), said.port, short(ann.Static), ann.Port)
	}
	key := srcKey{src, f.Injected}
	if ann.DeviceID == conformance.RoleB.String() && !slices.Contains(d.nodeB, key) && len(d.nodeB) < maxSources {
		d.nodeB = append(d.nodeB, key)
		if slices.ContainsFunc(d.nodeB, func(k srcKey) bool { return k.ip != src }) {
			a.add(Warn, DISC009, tag, fr, "node-b announced from %s: every VM other than 10.42.0.10 is node-b with the same keys, and node-a follows the last to announce", srcList(d.nodeB))
		}
	}
	if len(d.ports) < maxPorts {
		d.ports[ann.Port] = true
	}
	if learns {
		dev.learned, dev.learnedAddr, dev.learnedPort, dev.learnedKey, dev.learnedFrame = true, src, ann.Port, ann.Static, f.Number
	}
	if ok && known && !dev.milestone {
		dev.milestone = true
		d.c.milestone("nexus discovery ok " + ann.DeviceID)
	}
}

func (d *discovery) source(k srcKey, frame int) *discSource {
	s := d.sources[k]
	if s == nil {
		s = &discSource{ip: k.ip, firstFrame: frame}
		if len(d.sources) < maxSources {
			d.sources[k] = s
			d.srcOrder = append(d.srcOrder, k)
		}
	}
	return s
}

// announced returns the announce a node learned for id: the last unicast
// copy to the peer or broadcast delivered; ok is false when none was.
func (d *discovery) announced(id string) (*discDevice, bool) {
	dev := d.devices[id]
	if dev == nil || !dev.learned {
		return nil, false
	}
	return dev, true
}

// end adds the findings about the whole run.
func (d *discovery) end(a *agg) {
	nexus := d.c.opts.Profile == ProfileNexus
	if d.announces == 0 {
		a.add(Warn, DISC001, "none", nil, "no datagram to UDP 37020: discovery was not seen (a session does not need it: node-a falls back to 10.42.0.11:34568)")
	}
	if d.tooMany > 0 {
		a.add(Warn, DISC004, "too-many", nil, "more than %d device ids: %d announces were not followed", maxDevices, d.tooMany)
	}
	for _, id := range d.devOrder {
		// One device id, whoever announced it: the VMs and the hub's
		// injected announces.
		said := d.devices[id].said
		if !said[0].changed && !said[1].changed {
			a.pass(DISC004, said[0].firstFrame, said[1].firstFrame)
		}
	}
	for _, k := range d.srcOrder {
		s := d.sources[k]
		who := k.who()
		fr := []int{s.firstFrame}
		switch {
		case s.mcast >= 2 && s.ucast == 0:
			d.noUnicast(a, k, s)
		case s.ucast >= 2 && s.mcast == 0:
			a.add(Warn, DISC006, "no-mcast "+k.subject(), fr, "%s sent %d unicast announces and none to 239.42.0.1: the OS sends every announce to both", who, s.ucast)
		case s.mcast > 0 && s.ucast > 0 && s.bcast == 0:
			a.pass(DISC006, s.firstFrame)
			if nexus {
				a.add(Info, NX09, "", fr, "announces go to 239.42.0.1 and by unicast to a peer hard-coded in the OS, never broadcast; receivers cannot take the multicast copy (no IGMP)")
			}
		}
		tl := &s.rounds
		if tl.n == 0 {
			tl = &s.uRounds
		}
		if tl.storms > 0 {
			a.add(Warn, DISC007, "storm "+k.subject(), []int{tl.stormFrame}, "%s sent %d announce rounds within %v %d times: the OS announces at most once per 64 ms pass", who, stormRounds+1, stormWindow, tl.storms)
		}
		if len(tl.gaps) > 0 {
			a.add(Info, DISC007, "cadence "+k.subject(), fr, "%s: %d announce rounds, median gap %v (min %v, max %v); the OS's nominal period is 64 ms",
				who, tl.n, tl.median().Round(time.Millisecond), tl.min.Round(time.Microsecond), tl.max.Round(time.Millisecond))
		}
		r := s.repeats[1]
		if s.repeats[0].n > r.n {
			r = s.repeats[0]
		}
		if nexus && r.n > 0 {
			times := plural(r.n, "time")
			if r.n == 1 {
				times = "once"
			}
			a.add(Info, NX10, k.subject(), r.frames, "%s repeated the same announce %s: announces carry no nonce, timestamp or TTL, and receivers accept replays", who, times)
		}
	}
}

// noUnicast judges a sender whose announces all went to the group. The
// OS sends each by unicast to its peer too, but only once it has the
// peer's MAC: a failure when the wire shows it had it (an ARP packet from
// the peer reached it) and sent two or more after, or when the peer was
// there and it never asked; a warning that points at the peer when its
// ARP requests got no reply that reached it, or when the peer never
// appeared at all.
func (d *discovery) noUnicast(a *agg, k srcKey, s *discSource) {
	who, peer := k.who(), peerOf(k.ip)
	subj, fr := "no-ucast "+k.subject(), []int{s.firstFrame}
	const lost = "receivers drop the multicast copy (no IGMP), so its peer never learns it"
	r := d.arps[k.ip]
	if k.injected {
		r = nil // the hub injected them: no ARP of its own
	}
	switch {
	case r != nil && r.resolved && s.mcastResolved >= 2:
		a.add(Fail, DISC006, subj, []int{s.firstFrame, r.resolvedAt}, "%s sent %d announces to the multicast group and none by unicast, %d of them after ARP gave it %v's MAC (frame %d): %s",
			who, s.mcast, s.mcastResolved, peer, r.resolvedAt, lost)
	case r != nil && r.resolved:
		a.add(Warn, DISC006, subj, []int{s.firstFrame, r.resolvedAt}, "no unicast announce on the wire: ARP gave %s %v's MAC only at frame %d, and it sent %s to the multicast group after, too few to tell (the OS sends its unicast copy once it has the MAC)",
			who, peer, r.resolvedAt, plural(s.mcastResolved, "announce"))
	case r != nil && r.asked > 0:
		reply, why := "no reply", plural(r.asked, "request")
		switch {
		case r.askLost == r.asked:
			why += ", all dropped by the hub"
		case r.askLost > 0:
			why += fmt.Sprintf(", %d dropped by the hub", r.askLost)
		}
		if r.repliesLost > 0 {
			reply = "no reply that reached it"
			if r.repliesLost == 1 {
				why += "; the hub dropped the reply"
			} else {
				why += fmt.Sprintf("; the hub dropped the %d replies", r.repliesLost)
			}
		}
		a.add(Warn, DISC006, subj, []int{s.firstFrame, r.firstAsk}, "no unicast announce on the wire: %s's ARP requests for %v got %s (%s), and without its peer's MAC a node sends no unicast copy; its %d announces to the multicast group are dropped by receivers (no IGMP)",
			who, peer, reply, why, s.mcast)
	case !k.injected && !d.heard(peer):
		a.add(Warn, DISC006, subj, fr, "no unicast announce on the wire: %s sent %d announces to the multicast group, but its peer %v sent nothing and no ARP request for it was seen: nothing shows it had a MAC to send its unicast copy to",
			who, s.mcast, peer)
	default:
		a.add(Fail, DISC006, subj, fr, "%s sent %d announces to the multicast group and none by unicast: %s", who, s.mcast, lost)
	}
}

// errorClass names an announce decode error by the spec's classes.
func errorClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{conformance.ErrTruncated, "truncated"},
		{conformance.ErrBadMagic, "bad magic"},
		{conformance.ErrUnsupportedVersion, "unsupported version"},
		{conformance.ErrInvalidInput, "length out of range"},
		{conformance.ErrUTF8, "invalid utf-8"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "malformed"
}

func staticTag(r conformance.Role) byte {
	if r == conformance.RoleA {
		return conformance.TagStaticA
	}
	return conformance.TagStaticB
}

// short abbreviates a key as the spec does: first and last two bytes.
func short(k [32]byte) string { return fmt.Sprintf("%x…%x", k[:4], k[30:]) }

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// srcList lists announcing addresses, "10.42.0.11, 10.42.0.12 (injected)".
func srcList(ks []srcKey) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += k.ip.String()
		if k.injected {
			s += " (injected)"
		}
	}
	return s
}

// plural is "1 thing" or "n things".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// agree is the form of a verb that goes with plural(n, ...): one when n
// is 1, more otherwise ("was" or "were").
func agree(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}
