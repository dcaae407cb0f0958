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
// it is described.

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

// scanInterfaces reads every interface description of in's foreign
// sections, and reports whether they describe more than one interface
// (ifaceID). It stops at the second: the answer is then known. A read
// error ends the scan with what was read before it (the replay reports
// it where it stops). A classic pcap file has one link.
func scanInterfaces(in Input, maxBlock int) (bool, error) {
	seen := ""
	several := false
	note := func(l2hub bool, ifs []capture.Interface) {
		if l2hub {
			return
		}
		for pos, ifc := range ifs {
			id := ifaceID(ifc, pos)
			if seen == "" {
				seen = id
			}
			several = several || id != seen
		}
	}
	src, err := openSource(context.Background(), 0, in, maxBlock, func(s *source, sec sectionInfo) {
		note(sec.l2hub, sec.ifaces)
	})
	if err != nil {
		return false, err
	}
	defer src.close()
	if src.rd.Format() != capture.FormatPcapng {
		return false, nil
	}
	n, section := -1, -1
	for !several && src.advance() {
		// An interface described after frames of another counts from
		// when it is met, so that a scan stops as soon as it can.
		if src.section != section {
			n, section = -1, src.section
		}
		if ifs := src.rd.Interfaces(); len(ifs) != n {
			n = len(ifs)
			note(src.l2hub, ifs)
		}
	}
	return several, nil
}
