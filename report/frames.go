package report

import (
	"encoding/binary"
	"fmt"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// Lifelines and frames: each interface of the capture (or, in a capture
// without directions, each source MAC) is a lifeline, and each frame a port
// sent is an arrow from it (newFrame), with the drops its ingress record's
// notes tell of. A capture that records no deliveries has them inferred
// from MAC addresses (infer); deliveries that overtook an earlier frame on
// their link are marked (reorders). The links of a frame with many
// deliveries or drops are indexed (frameLinks) for match.go.

// port returns the lifeline of a record's interface. Lifelines come in
// the order the capture describes its interfaces: a record on an interface
// not seen yet adds every interface described so far, so that a comment
// can name a port before that port's first frame.
func (b *builder) port(p capture.Packet, r *capture.Reader) (int, error) {
	if i, ok := b.ifacePort[[2]int{p.Section, p.Interface}]; ok {
		return i, nil
	}
	if err := b.addInterfaces(p.Section, r.Interfaces()); err != nil {
		return 0, err
	}
	return b.iface(p.Section, p.Interface, p.IfName, "")
}

// addInterfaces adds a lifeline for each interface of a section (those
// described so far).
func (b *builder) addInterfaces(section int, ifs []capture.Interface) error {
	for i, f := range ifs {
		if _, err := b.iface(section, i, f.Name, f.Description); err != nil {
			return err
		}
	}
	return nil
}

// iface returns the lifeline of interface id of section, made if need be.
// Two interfaces of one section are two lifelines, whatever their names
// (two unnamed ones, "c" and "c\a", "if1" and the unnamed interface 1);
// an interface named as one of an earlier section continues its lifeline.
func (b *builder) iface(section, id int, name, desc string) (int, error) {
	key := [2]int{section, id}
	if i, ok := b.ifacePort[key]; ok {
		return i, nil
	}
	if i, ok := b.byName[name]; ok && name != "" && b.section[i] != section {
		b.ifacePort[key], b.section[i] = i, section
		return i, nil
	}
	shown := cleanText(name, 64)
	if name == "" {
		shown = fmt.Sprintf("if%d", id)
	}
	i, err := b.addPort(shown, cleanText(desc, 128))
	if err != nil {
		return 0, err
	}
	b.ifacePort[key], b.section[i] = i, section
	if _, ok := b.byName[name]; !ok && name != "" {
		b.byName[name] = i
	}
	return i, nil
}

// addPort adds a lifeline. A name already shown gets a number ("c (2)"):
// two lifelines are never told apart by a name alone.
func (b *builder) addPort(name, desc string) (int, error) {
	if len(b.m.Ports) == b.lim.MaxPorts {
		return 0, fmt.Errorf("%w: more than %d (Limits.MaxPorts)", ErrTooManyPorts, b.lim.MaxPorts)
	}
	shown := name
	for n := 2; ; n++ {
		if _, taken := b.ports[shown]; !taken {
			break
		}
		shown = fmt.Sprintf("%s (%d)", name, n)
	}
	b.ports[shown] = len(b.m.Ports)
	b.m.Ports = append(b.m.Ports, Port{Name: shown, Description: desc})
	b.section = append(b.section, -1)
	return len(b.m.Ports) - 1, nil
}

// newFrame adds a frame for record p sent by port from.
func (b *builder) newFrame(p capture.Packet, from int, shown string) int {
	fi := len(b.m.Frames)
	b.m.Frames = append(b.m.Frames, Frame{
		Number:  p.Number,
		Time:    b.rel(p.Time),
		From:    from,
		Label:   b.lab.label(p.Data),
		Len:     p.OrigLen,
		Data:    b.clip(p.Data),
		Comment: shown,
		Group:   -1,
	})
	h := contentHash(p.Data)
	b.m.Frames[fi].sum = h
	s := b.recent[h]
	if len(s) == maxPending {
		s = s[1:]
	}
	b.recent[h] = append(s, int32(fi))
	if p.Number > 0 {
		b.m.at[p.Number] = ref{int32(fi), -1}
	}
	if from >= 0 && p.Number > 0 {
		s := b.sized[p.OrigLen]
		if len(s) == corruptRecent {
			s = s[1:]
		}
		b.sized[p.OrigLen] = append(s, int32(fi))
	}
	return fi
}

// ingress records what a port sent, and the links the comment says it was
// dropped on. (The hub notes delays and corruptions on the copies, in the
// egress records, and drops on the ingress record.)
func (b *builder) ingress(p capture.Packet, port int, c comment) {
	fi := b.newFrame(p, port, c.shown)
	dropped, notes := b.notes(c)
	why := false // a note says why it was dropped
	for _, n := range notes {
		if !hub.IsDropAction(n.Action) {
			continue
		}
		why = true
		to := -1
		if i, ok := b.ports[n.To()]; ok && n.Link != "" {
			to = i
		}
		d := Drop{To: to, Number: p.Number, Reason: b.reason(n), Rule: b.keepOr(cleanText(n.Rule, maxRuleText), ""), Action: action(n.Action)}
		if b.addDrop(fi, d) && isBand(d.Action) {
			f := &b.m.Frames[fi]
			f.Drops[len(f.Drops)-1].band = b.bandOf(n)
		}
	}
	if dropped && !why {
		b.addDrop(fi, Drop{To: -1, Number: p.Number, Reason: "dropped"})
	}
}

// injected reports whether a record's comment says the hub injected it
// (hub.InjectNotes: a note with no link whose action is "inject").
func injected(comment string) bool {
	_, notes := hub.ParseNotes(comment, 8)
	for _, n := range notes {
		if n.Action == "inject" && n.Link == "" {
			return true
		}
	}
	return false
}

// macRecord reads a record without a direction (classic pcap, QEMU's
// filter-dump): its sender is the port named after its source MAC, as
// replay names them; a copy of a frame that port just sent is its echo.
func (b *builder) macRecord(p capture.Packet, c comment) error {
	if len(p.Data) < 14 {
		port, err := b.macPortOf([6]byte{})
		if err != nil {
			return err
		}
		b.newFrame(p, port, c.shown)
		return nil
	}
	src := [6]byte(p.Data[6:12])
	port, err := b.macPortOf(src)
	if err != nil {
		return err
	}
	h, t := contentHash(p.Data), b.rel(p.Time)
	if s := b.recent[h]; len(s) > 0 {
		fi := s[len(s)-1]
		if f := &b.m.Frames[fi]; f.From == port && t-f.Time <= echoWindow && t >= f.Time {
			if len(f.Copies) < maxPerFrame {
				f.Copies = append(f.Copies, p.Number)
			} else {
				f.More++
			}
			b.m.at[p.Number] = ref{fi, -1}
			return nil
		}
	}
	fi := b.newFrame(p, port, c.shown)
	if dropped, notes := b.notes(c); dropped {
		reason := "dropped"
		if len(notes) > 0 {
			reason = b.reason(notes[0])
		}
		b.addDrop(fi, Drop{To: -1, Number: p.Number, Reason: reason})
	}
	return nil
}

func (b *builder) macPortOf(mac [6]byte) (int, error) {
	if i, ok := b.macPort[mac]; ok {
		return i, nil
	}
	name := fmt.Sprintf("m%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	desc := fmt.Sprintf("MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])
	i, err := b.addPort(name, desc)
	if err != nil {
		return 0, err
	}
	b.macPort[mac] = i
	return i, nil
}

// infer gives frames their receivers when the capture does not record
// deliveries (it has no egress points): a unicast frame goes to the port
// its destination MAC was seen sending from, anything else to every other
// port, less the links it was dropped on. The deliveries it makes count against Limits.MaxFrames, as recorded
// ones would: many MACs flooding must not multiply the page.
func (b *builder) infer() {
	if b.egress || len(b.m.Frames) == 0 {
		return
	}
	b.m.Inferred = true
	owner := map[[6]byte]int{}
	for _, f := range b.m.Frames {
		if len(f.Data) >= 14 && f.From >= 0 && f.Data[6]&1 == 0 {
			if _, ok := owner[[6]byte(f.Data[6:12])]; !ok {
				owner[[6]byte(f.Data[6:12])] = f.From
			}
		}
	}
	budget, refused := min(b.lim.MaxFrames, b.arrowsLeft), 0
	defer func() {
		if refused > 0 {
			b.warn("deliveries inferred for the first frames only (Limits.MaxFrames, Limits.MaxArrows): %d more are not drawn", refused)
		}
	}()
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		// (A frame with drops left out cannot say where it did not go.)
		if len(f.Data) < 14 || f.From < 0 || f.More > 0 {
			continue
		}
		blocked := func(to int) bool {
			for _, d := range f.Drops {
				if d.To == -1 || d.To == to {
					return true
				}
			}
			return false
		}
		add := func(to int) {
			switch {
			case to == f.From || blocked(to):
			case budget == 0:
				refused++
			default:
				budget--
				b.addDelivery(i, Delivery{To: to, Time: f.Time, Kind: Inferred})
			}
		}
		if to, ok := owner[[6]byte(f.Data[0:6])]; ok && f.Data[0]&1 == 0 {
			add(to)
			continue
		}
		for to := range b.m.Ports {
			add(to)
		}
	}
}

// reorders marks each delivery that arrived before a frame sent earlier on
// the same link.
func (b *builder) reorders() {
	type last struct {
		t      time.Duration
		number int
	}
	latest := map[[2]int]last{}
	for i := range b.m.Frames {
		f := &b.m.Frames[i]
		for j := range f.Deliveries {
			d := &f.Deliveries[j]
			if d.Kind&(Inferred|Duplicate) != 0 {
				continue
			}
			link := [2]int{f.From, d.To}
			if l, ok := latest[link]; ok && d.Time < l.t {
				d.Kind |= Reordered
				d.Overtook = l.number
				continue
			}
			latest[link] = last{d.Time, f.record()}
		}
	}
}

// contentHash is FNV-1a over the bytes and their length.
func contentHash(data []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range data {
		h ^= uint64(c)
		h *= 1099511628211
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	for _, c := range n {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// smallLinks is how many deliveries and drops a frame has before
// eligible looks them up in sets (frameLinks) rather than the lists.
const smallLinks = 16

// frameLinks are the ports a frame with many deliveries or drops went to,
// and those it was dropped towards.
type frameLinks struct{ got, dropped portSet }

// indexLink notes that frame fi went to (or was dropped towards) port, in
// its frameLinks once it has more than smallLinks.
func (b *builder) indexLink(fi, port int, dropped bool) {
	f := &b.m.Frames[fi]
	l := b.links[int32(fi)]
	switch {
	case l != nil && dropped:
		l.dropped.add(port)
	case l != nil:
		l.got.add(port)
	case len(f.Deliveries)+len(f.Drops) > smallLinks:
		l = &frameLinks{}
		for _, d := range f.Deliveries {
			l.got.add(d.To)
		}
		for _, d := range f.Drops {
			l.dropped.add(d.To)
		}
		b.links[int32(fi)] = l
	}
}

// portSet is a set of lifelines, a bit each.
type portSet []uint64

func (s *portSet) add(p int) {
	if p < 0 {
		return
	}
	for len(*s) <= p/64 {
		*s = append(*s, 0)
	}
	(*s)[p/64] |= 1 << (p % 64)
}

func (s portSet) has(p int) bool { return p >= 0 && p/64 < len(s) && s[p/64]&(1<<(p%64)) != 0 }
