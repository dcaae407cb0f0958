package replay

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"l2hub/capture"
)

// Records deleted after the run (editcap -D drops the egress copies that
// equal their ingress, and with them the edits their comments carried)
// leave an l2hub capture that reads cleanly. Its statistics blocks still
// count each port's records in the file, as the Sink wrote it; a replay
// compares them with the records it read.

// statsRecords matches the counts an l2hub statistics block's comment
// gives for the file ("l2hub port b: this file: 12 frames from the peer
// (…), 30 for the peer (…)", capture's ifStats.comment).
var statsRecords = regexp.MustCompile(`^l2hub port .*: this file: (\d+) frames from the peer \([^)]*\), (\d+) for the peer`)

// statsLive matches the hub's counters of the port that the statistics
// blocks a capture's Close writes add ("…; hub counters since the port
// was added: rx 819, tx 2076, dropped 4 (runt=1 policy=3)": the drops by
// reason, hub.DropReason's names, when there are any), and the port's
// name.
var statsLive = regexp.MustCompile(`^l2hub port (.*): this file: .*; hub counters since the port was added: rx (\d+), tx (\d+), dropped (\d+)(?: \(([^)]*)\))?$`)

// recordsLacking is what an input's statistics blocks count that it does
// not hold.
type recordsLacking struct {
	n     uint64
	ports []string // the ports whose records are lacking, each once
	// unchecked counts the sections that read to their end and have no
	// statistics block, which a Sink ends every section with: the hub was
	// killed, or a tool rewrote the file (Wireshark 4.0's editcap, tshark
	// -w and mergecap leave them out).
	unchecked int
	seen      bool // the current section has a statistics block
}

// countRecords makes s compare each l2hub section's records with its
// statistics blocks (Run's sources do; Open's read only a start).
func (s *source) countRecords() {
	s.recs, s.stated = map[int]uint64{}, map[int]uint64{}
}

// statistics reads a statistics block's record counts (capture's
// ReadOptions.Statistics).
func (s *source) statistics(_, iface int, comments []string) {
	if s.stated == nil {
		return
	}
	s.lacking.seen = true
	for _, c := range comments {
		if m := statsLive.FindStringSubmatch(c); m != nil {
			rx, err1 := strconv.ParseUint(m[2], 10, 64)
			tx, err2 := strconv.ParseUint(m[3], 10, 64)
			dropped, err3 := strconv.ParseUint(m[4], 10, 64)
			drops, ok := parseDrops(m[5], dropped)
			if err1 == nil && err2 == nil && err3 == nil {
				if s.live == nil {
					s.live = map[string]LiveCounters{}
				}
				s.live[m[1]] = LiveCounters{RxFrames: rx, TxFrames: tx, Dropped: dropped, Drops: drops, reasons: ok}
			}
		}
		m := statsRecords.FindStringSubmatch(c)
		if m == nil {
			continue
		}
		from, err1 := strconv.ParseUint(m[1], 10, 64)
		to, err2 := strconv.ParseUint(m[2], 10, 64)
		if err1 == nil && err2 == nil {
			s.stated[iface] = addSaturating(s.stated[iface], from, to)
		}
	}
}

// parseDrops reads the drops by reason a statistics comment lists
// ("runt=1 policy=3"). ok is false when they do not add up to dropped (a
// comment cut short, or written by another version): the reasons are
// then unknown.
func parseDrops(list string, dropped uint64) (drops map[string]uint64, ok bool) {
	var sum uint64
	for _, f := range strings.Fields(list) {
		k, v, found := strings.Cut(f, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if !found || err != nil {
			return nil, false
		}
		if drops == nil {
			drops = map[string]uint64{}
		}
		drops[k] = addSaturating(drops[k], n)
		sum = addSaturating(sum, n)
	}
	return drops, sum == dropped
}

// compareRecords ends a section's count: the records its statistics
// blocks count and it lacks are added up.
func (s *source) compareRecords(ifaces []capture.Interface) {
	if s.recs == nil {
		return
	}
	if s.l2hub && s.err == nil && !s.lacking.seen {
		s.lacking.unchecked++
	}
	if s.l2hub && s.err == nil {
		for _, iface := range slices.Sorted(maps.Keys(s.stated)) {
			want, got := s.stated[iface], s.recs[iface]
			if got >= want {
				continue
			}
			s.lacking.n = addSaturating(s.lacking.n, want-got)
			name := "if" + strconv.Itoa(iface)
			if iface < len(ifaces) && ifaces[iface].Name != "" {
				name = ifaces[iface].Name
			}
			if !slices.Contains(s.lacking.ports, name) {
				s.lacking.ports = append(s.lacking.ports, name)
			}
		}
	}
	clear(s.recs)
	clear(s.stated)
	s.lacking.seen = false
}

// addSaturating returns the sum of a and more, or math.MaxUint64 when it
// would not fit: the counts come from the file, and a crafted one must not
// wrap them round to a small number.
func addSaturating(a uint64, more ...uint64) uint64 {
	for _, b := range more {
		sum, carry := bits.Add64(a, b, 0)
		if carry != 0 {
			return math.MaxUint64
		}
		a = sum
	}
	return a
}

// lackingNote says that in lacks records its statistics count.
func lackingNote(in InputResult) Note {
	return warning(NoteMissing, in.Path, fmt.Sprintf("the capture's statistics blocks count %d records more than it holds (ports %s): "+
		"records were deleted after the run (editcap -D, a display filter); the policy edits they carried, if any, are missing, "+
		"so the edits and decisions may differ from the run's", in.LackingRecords, strings.Join(in.LackingPorts, ", ")))
}

// uncheckedNote says that in has no statistics blocks to check its
// records against.
func uncheckedNote(in InputResult) Note {
	return warning(NoteMissing, in.Path, "the capture has no statistics blocks, which l2hub writes as it ends each file: "+
		"the hub was killed before, the file failed (a full disk: the capture then goes on in the next numbered file, whose first frame says what is missing), "+
		"or a tool rewrote the file (Wireshark's editcap, tshark -w and mergecap may leave them out). "+
		"The edits the run made after its last frame, which they carry, are missing, and so are those of any records deleted "+
		"(editcap -D): the edits and decisions may differ from the run's")
}
