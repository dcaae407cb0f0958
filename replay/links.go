package replay

import (
	"context"
	"strconv"

	"l2hub/capture"
)

// A foreign pcapng may describe its interfaces in several sections (files
// joined with cat: each starts a section and describes its interfaces
// again), and may describe one after frames of others. Whether it holds
// one link or several is therefore a property of the whole file, not of
// the section or the moment a frame is met: scanInterfaces reads it once,
// and replay and inject name its ports from what it found
// (foreignPortName), so that the same interface is the same port wherever
// it is described. An input that starts as an l2hub capture is scanned
// only when a foreign section of it is met (files joined with cat again):
// most never are, and an l2hub capture is not read once more for nothing.

// ifaceID is what tells a foreign input's interfaces apart across its
// sections: its if_name, or, without one, its position in its section.
func ifaceID(ifc capture.Interface, pos int) string {
	if ifc.Name != "" {
		return "name " + ifc.Name
	}
	return "pos " + strconv.Itoa(pos)
}

// foreignPortName names the port of interface pos (ifc) of a foreign
// input: the input's port (Input.Port, or the file's name) when the input
// holds one link; else the interface's if_name, or the input's port and
// its position when it has none.
func foreignPortName(in Input, several bool, ifc capture.Interface, pos int) string {
	switch {
	case !several:
		return in.portName()
	case ifc.Name != "":
		return ifc.Name
	}
	return in.portName() + "-if" + strconv.Itoa(pos)
}

// ifaceSet notes the interfaces of foreign sections, and says whether
// they are more than one (ifaceID).
type ifaceSet struct {
	first   string
	several bool
}

func (s *ifaceSet) note(ifs []capture.Interface) {
	for pos, ifc := range ifs {
		id := ifaceID(ifc, pos)
		if s.first == "" {
			s.first = id
		}
		s.several = s.several || id != s.first
	}
}

// scanInterfaces reads every interface description of in's foreign
// sections (not its l2hub capture's), and reports whether they describe
// more than one interface (ifaceID). It stops at the second: the answer
// is then known. A read error ends the scan with what was read before it
// (the replay reports it where it stops). A classic pcap file has one
// link.
func scanInterfaces(in Input, maxBlock int) (bool, error) {
	return scanLinks(in, maxBlock, nil)
}

// scanLinks is scanInterfaces, noting in l2hubPorts, when set, the ports
// of the l2hub sections' frames it reads.
func scanLinks(in Input, maxBlock int, l2hubPorts map[string]bool) (bool, error) {
	var set ifaceSet
	src, err := openSource(context.Background(), 0, in, maxBlock, func(s *source, sec sectionInfo) {
		if !sec.l2hub {
			set.note(sec.ifaces)
		}
	})
	if err != nil {
		return false, err
	}
	defer src.close()
	if src.rd.Format() != capture.FormatPcapng {
		return false, nil
	}
	n, section := -1, -1
	for !set.several && src.advance() {
		// An interface described after frames of another counts from
		// when it is met, so that a scan stops as soon as it can.
		if src.section != section {
			n, section = -1, src.section
		}
		if ifs := src.rd.Interfaces(); len(ifs) != n && !src.l2hub {
			n = len(ifs)
			set.note(ifs)
		}
		if src.l2hub && l2hubPorts != nil {
			l2hubPorts[src.head.IfName] = true
		}
	}
	return set.several, nil
}

// links says, for inject --from, how one input's foreign ports are named
// (several: one link or more). An input that can be read again is
// scanned (scanInterfaces) when its first foreign frame is met, once; one
// read once (a pipe) cannot be, and is judged by the interfaces it has
// described up to the frame: its frames go by the file's name until it
// describes a second interface, and by the interface's after, so that the
// file's name never picks out the frames of two links.
//
// l2hubPorts are the ports of the input's l2hub sections (files joined
// with cat), which the if_name of a foreign link must not alias: of a
// file, every such section's, from the scan; of an input read once, those
// met so far (an l2hub section after the foreign one cannot be known in
// time, and a name of both then picks out both links' frames).
type links struct {
	in         Input
	maxBlock   int
	once       bool // in is read once: seen, not a scan
	scanned    bool
	several    bool
	l2hubPorts map[string]bool
	// seen, of an input read once: the interfaces described so far; n
	// and section, where it was last noted.
	seen       ifaceSet
	n, section int
}

func newLinks(in Input, maxBlock int) *links {
	return &links{in: in, maxBlock: maxBlock, once: in.readOnce(), n: -1, section: -1, l2hubPorts: map[string]bool{}}
}

// of says whether src's input, at its current frame (of a foreign
// section), holds several links. An input that cannot be read again, as
// it was a moment ago, is taken for one of several: each interface its
// own port, never two links under one name.
func (l *links) of(src *source) bool {
	if !l.once {
		if !l.scanned {
			several, err := scanLinks(l.in, l.maxBlock, l.l2hubPorts)
			l.scanned, l.several = true, several || err != nil
		}
		return l.several
	}
	if src.section != l.section {
		l.n, l.section = -1, src.section
	}
	if ifs := src.rd.Interfaces(); len(ifs) != l.n {
		l.n = len(ifs)
		l.seen.note(ifs)
	}
	return l.seen.several
}

// l2hubFrame notes a frame of an l2hub section of port, met in an input
// read once (a file's are scanned).
func (l *links) l2hubFrame(port string) {
	if l.once {
		l.l2hubPorts[port] = true
	}
}

// l2hubPort says whether an l2hub section of the input has a port name
// (l2hubPorts); of a file, after of has scanned it.
func (l *links) l2hubPort(name string) bool { return l != nil && l.l2hubPorts[name] }
