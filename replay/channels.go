package replay

import (
	"fmt"
	"slices"
	"strconv"

	"l2hub/capture"
)

// Channels: where frames come from, and which port each feeds. Open
// registers a channel for every interface of an l2hub capture (its port,
// named as the live hub named it) and for every foreign input (or
// interface of a multi-interface foreign pcapng, links.go), and plans the
// ports a replay adds before its first frame: the l2hub interfaces, the
// --port NAME=MAC ports, then the foreign inputs that own frames
// (owners.go).

// channel is where frames come from: an interface of an l2hub capture, or
// one foreign input (or interface of a multi-interface foreign pcapng).
type channel struct {
	name  string // the port it feeds by default
	desc  string
	input int
	l2hub bool
	echo  bool
}

// foreignIf is an interface of a foreign input, whichever section
// describes it.
type foreignIf struct {
	input int
	id    string // ifaceID; "" for every interface of an input of one link
}

// chanName identifies a channel: an l2hub capture's by its port's name
// (input -1), a foreign input's by its name within that input.
type chanName struct {
	l2hub bool
	name  string
	input int
}

type portSpec struct{ name, desc string }

// portsOf returns the names of the channels input idx registered first.
func (r *Replayer) portsOf(idx int) []string {
	var names []string
	for _, c := range r.chans {
		if c.input == idx && !slices.Contains(names, c.name) {
			names = append(names, c.name)
		}
	}
	return names
}

func (r *Replayer) countL2hub() int {
	n := 0
	for _, c := range r.chans {
		if c.l2hub {
			n++
		}
	}
	return n
}

// describe registers a channel for every interface an l2hub section
// described, with or without frames, and returns them.
func (r *Replayer) describe(s *source, sec sectionInfo) []int {
	chs := make([]int, len(sec.ifaces))
	for id := range sec.ifaces {
		chs[id] = r.register(s.idx, s.in, true, id, sec.ifaces)
	}
	return chs
}

// planPorts lists the ports to add before the first frame, in a fixed order:
// l2hub interfaces as their captures list them, then MAC ports, then
// foreign inputs that own frames.
func (r *Replayer) planPorts(macs [][6]byte, vm []int) {
	seen := map[string]bool{}
	add := func(name, desc string) {
		if !seen[name] {
			seen[name] = true
			r.ports = append(r.ports, portSpec{name, desc})
		}
	}
	for _, c := range r.chans {
		if c.l2hub {
			add(c.name, c.desc)
		}
	}
	for _, mp := range r.cfg.MACs {
		add(mp.Port, "replay of source MAC "+macString(mp.MAC))
	}
	for _, mac := range macs {
		o, ok := r.owners[mac]
		if !ok {
			continue
		}
		if _, named := r.macPort[mac]; named {
			continue
		}
		if r.auto {
			add(autoPort(mac), "replay of source MAC "+macString(mac)+" in "+r.chans[o.ch].desc)
			continue
		}
		add(r.chans[o.ch].name, r.chans[o.ch].desc)
	}
	// Every per-VM input is a VM that was on the segment: its port exists,
	// and floods reach it, whether or not it sent anything. With MAC ports
	// given, only the inputs that still feed a port of their own.
	for _, ch := range vm {
		if r.auto {
			break
		}
		name := r.chans[ch].name
		need := len(r.cfg.MACs) == 0
		for _, mp := range r.cfg.MACs {
			need = need || mp.Port == name
		}
		for mac, o := range r.owners {
			_, named := r.macPort[mac]
			need = need || (o.ch == ch && !named)
		}
		if need {
			add(name, r.chans[ch].desc)
		}
	}
}

// autoPort names the port of a source MAC when ports are made per MAC.
func autoPort(mac [6]byte) string {
	return fmt.Sprintf("m%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
}

// channelOf returns p's channel, registering it (and, for an l2hub capture,
// every interface its section has described so far) on first sight.
func (r *Replayer) channelOf(s *source, p *capture.Packet) int {
	if p.Interface < len(s.ifChan) && s.ifChan[p.Interface] >= 0 {
		return s.ifChan[p.Interface]
	}
	ifs := s.rd.Interfaces()
	for len(s.ifChan) < len(ifs) {
		s.ifChan = append(s.ifChan, -1)
	}
	for id := range ifs {
		if s.ifChan[id] < 0 && (s.l2hub || id == p.Interface) {
			s.ifChan[id] = r.register(s.idx, s.in, s.l2hub, id, ifs)
		}
	}
	if p.Interface >= len(s.ifChan) { // cannot happen: the reader checks IDs
		return r.register(s.idx, s.in, s.l2hub, p.Interface, ifs)
	}
	return s.ifChan[p.Interface]
}

// register returns the channel of interface id of an input's section
// (l2hub: whether the section is an l2hub capture's), adding it on first
// sight. An l2hub capture's channels are its ports, found by name in
// whichever part or section describes them; a foreign input's, by its
// interface (foreignIf). Neither grows with the sections that describe
// the same interfaces again.
func (r *Replayer) register(idx int, in Input, l2hub bool, id int, ifs []capture.Interface) int {
	var ifc capture.Interface
	if id < len(ifs) {
		ifc = ifs[id]
	}
	if r.snaplen >= 0 {
		switch sl := ifc.Snaplen; {
		case sl <= 0 || sl >= capture.DefaultSnaplen:
			r.snaplen = -1 // no limit worth keeping
		default:
			r.snaplen = max(r.snaplen, sl)
		}
	}
	if l2hub {
		c := channel{name: ifc.Name, desc: ifc.Description, l2hub: true, input: idx}
		if c.name == "" {
			c.name = "if" + strconv.Itoa(id)
		}
		cn := chanName{l2hub: true, name: c.name, input: -1}
		if i, ok := r.byName[cn]; ok {
			return i
		}
		r.chans = append(r.chans, c)
		r.byName[cn] = len(r.chans) - 1
		return len(r.chans) - 1
	}
	several, ok := r.links[idx]
	if !ok { // a foreign section of an input that starts as an l2hub capture (cat): links.go
		s, err := scanInterfaces(in, r.cfg.MaxBlock)
		several = s || err != nil // unreadable now: each interface its own port, never two links as one
		r.links[idx] = several
	}
	key := foreignIf{input: idx}
	if several {
		key.id = ifaceID(ifc, id)
	}
	if ch, ok := r.foreignIfs[key]; ok {
		return ch
	}
	c := channel{name: foreignPortName(in, several, ifc, id), desc: "replay of " + in.Path, input: idx}
	if several {
		c.desc += " interface " + c.name
	}
	if !several || ifc.Name == "" {
		r.named[idx] = true
	}
	// Foreign inputs must not share a name with each other.
	base := c.name
	for n := 1; r.foreignTaken(c.name, c.input); n++ {
		c.name = base + "-" + strconv.Itoa(n)
	}
	cn := chanName{name: c.name, input: c.input}
	if i, ok := r.byName[cn]; ok {
		r.foreignIfs[key] = i
		return i
	}
	r.chans = append(r.chans, c)
	i := len(r.chans) - 1
	r.foreignIfs[key], r.byName[cn] = i, i
	if _, ok := r.foreignBy[c.name]; !ok {
		r.foreignBy[c.name] = c.input
	}
	return i
}

// foreignTaken reports whether another input than input has a foreign
// channel called name.
func (r *Replayer) foreignTaken(name string, input int) bool {
	in, ok := r.foreignBy[name]
	return ok && in != input
}
