package lab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/packet"
)

// A Hint is what the wire says about a failure: what each port's VM sent
// in the failed phase's window (from the phase's start to the failure), the
// frames the policy dropped there and by which rule, and the conformance
// checker's first failing finding with the frames that prove it.
type Hint struct {
	Text    string           `json:"text"`
	From    ms               `json:"from_ms"` // the window: the failed phase's start
	To      ms               `json:"to_ms"`   // ... to the failure
	Ports   []PortCounts     `json:"ports"`
	Drops   []RuleDrops      `json:"drops,omitempty"`
	Finding *checker.Finding `json:"finding,omitempty"`
	Err     string           `json:"error,omitempty"` // the capture could not be read to its end
	// Lost counts the events the capture says it lost in the window (its
	// writer fell behind the hub: capture.Gaps): the counts may be short.
	Lost   uint64                 `json:"capture_lost,omitempty"`
	counts map[string]*PortCounts // by port
	// synDelivered counts, per port, the SYNs a link delivered;
	// synackLost the SYN-ACKs none did; arpAsked the ports whose VM sent
	// ARP requests, arpAnswered ARP replies delivered.
	synDelivered map[string]int
	synackLost   int
	arpAsked     []string
	arpAnswered  int
	// tcp counts the TCP frames in the window; checked is set when the
	// hub runs a conformance check (nexus-v1, noise-xk: their nodes
	// connect over TCP). Without either, the hint says nothing of SYNs.
	tcp     int
	checked bool
}

// PortCounts are the frames one port's VM sent in a window, by kind.
type PortCounts struct {
	Port      string `json:"port"`
	Frames    int    `json:"frames"`
	ARP       int    `json:"arp"`
	Announces int    `json:"announces"` // NXSB discovery announces (UDP 37020)
	SYN       int    `json:"syn"`
	SYNACK    int    `json:"syn_ack"`
	RST       int    `json:"rst"`
	Dropped   int    `json:"dropped"` // frames no link delivered
}

// RuleDrops counts the frames one rule (or a link set down) dropped from
// one port in the window.
type RuleDrops struct {
	Rule      string `json:"rule"`
	From      string `json:"from"`
	Frames    int    `json:"frames"`
	Announces int    `json:"announces,omitempty"`
	SYN       int    `json:"syn,omitempty"`
	First     int    `json:"first_frame"` // capture frame number of the first
}

// maxHintFrames bounds the capture records a hint reads: a run's capture
// is a file on disk, and a hint needs no more than this to say something.
const maxHintFrames = 2_000_000

// wireHint reads the capture at path, of a run that started at start, and
// explains the window [f.Since, f.At] of failure f; ports are the VMs'
// ports, in the order the hint lists them (other ports follow as found).
// checked is set when the hub runs a conformance check (hub.check).
func wireHint(path string, start time.Time, f *Failure, ports []string, report *checker.Report, checked bool) *Hint {
	h := &Hint{From: ms(f.Since), To: ms(f.At), counts: map[string]*PortCounts{}, synDelivered: map[string]int{}, checked: checked}
	for _, p := range ports {
		h.counts[p] = &PortCounts{Port: p}
	}
	order := slices.Clone(ports)
	drops := map[[2]string]*RuleDrops{}
	var dropOrder [][2]string
	if err := scanCapture(path, func(p capture.Packet) bool {
		at := p.Time.Sub(start)
		if at >= f.Since && at <= f.At {
			// A gap is noted on the record after it, of either direction.
			h.Lost += capture.Gaps(p.Comment)
		}
		if p.Dir != capture.DirIn {
			return true
		}
		if at < f.Since {
			return true
		}
		if at > f.At {
			return false
		}
		c := h.counts[p.IfName]
		if c == nil {
			c = &PortCounts{Port: p.IfName}
			h.counts[p.IfName] = c
			order = append(order, p.IfName)
		}
		var hd packet.Headers
		packet.Parse(p.Data, &hd)
		c.Frames++
		if hd.TCP {
			h.tcp++
		}
		announce := isAnnounce(p.Data, &hd)
		syn := hd.TCP && hd.HasPorts && hd.TCPFlags&packet.TCPSyn != 0 && hd.TCPFlags&packet.TCPAck == 0
		dropped, rules := dropRules(p.Comment)
		switch {
		case hd.EtherType == packet.EtherTypeARP:
			c.ARP++
			if op := arpOp(p.Data, &hd); op == 1 && !slices.Contains(h.arpAsked, p.IfName) {
				h.arpAsked = append(h.arpAsked, p.IfName)
			} else if op == 2 && !dropped {
				h.arpAnswered++
			}
		case announce:
			c.Announces++
		case syn:
			c.SYN++
			if !dropped {
				h.synDelivered[p.IfName]++
			}
		case hd.TCP && hd.HasPorts && hd.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn|packet.TCPAck:
			c.SYNACK++
		}
		if hd.TCP && hd.HasPorts && hd.TCPFlags&packet.TCPRst != 0 {
			c.RST++
		}
		if dropped {
			c.Dropped++
			if hd.TCP && hd.HasPorts && hd.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn|packet.TCPAck {
				h.synackLost++
			}
		}
		for _, r := range rules {
			k := [2]string{r, p.IfName}
			d := drops[k]
			if d == nil {
				d = &RuleDrops{Rule: r, From: p.IfName, First: p.Number}
				drops[k] = d
				dropOrder = append(dropOrder, k)
			}
			d.Frames++
			if announce {
				d.Announces++
			}
			if syn {
				d.SYN++
			}
		}
		return true
	}); err != nil {
		h.Err = err.Error()
	}
	for _, p := range order {
		h.Ports = append(h.Ports, *h.counts[p])
	}
	for _, k := range dropOrder {
		h.Drops = append(h.Drops, *drops[k])
	}
	if report != nil {
		for _, fd := range report.Findings {
			if fd.Verdict == checker.Fail {
				h.Finding = &fd
				break
			}
		}
	}
	h.Text = h.describe()
	return h
}

// scanCapture calls fn for each record of the capture at path until fn
// returns false, reading at most maxHintFrames.
func scanCapture(path string, fn func(capture.Packet) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := capture.NewReader(f, capture.ReadOptions{})
	if err != nil {
		return err
	}
	for n := 0; n < maxHintFrames; n++ {
		p, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !fn(p) {
			return nil
		}
	}
	return fmt.Errorf("more than %d records: the hint counts the first ones", maxHintFrames)
}

// isAnnounce reports whether a frame is an NXSB discovery announce
// (nexus-wire.md §2: UDP 37020, payload "NXSB").
func isAnnounce(frame []byte, h *packet.Headers) bool {
	return h.DstPort == conformance.DiscoveryPort && bytes.HasPrefix(h.UDPPayload(frame), []byte("NXSB"))
}

// arpOp returns an IPv4-over-Ethernet ARP frame's operation (1 request,
// 2 reply), 0 for any other frame.
func arpOp(frame []byte, h *packet.Headers) int {
	if a := h.ARP(frame); a != nil {
		return int(a.Op())
	}
	return 0
}

// maxNotes bounds the notes read from one comment.
const maxNotes = 64

// dropRules reads a capture comment ("dropped: a->b: rule split:
// partition (a|b)", several notes "; "-separated, several comments on
// lines of their own): whether no link delivered the frame, and what
// dropped it on some link: "partition NAME" (a partition: a trigger's
// or the policy's), "rule NAME", the hub's own reason ("queue-full") or,
// for a link set down by hand, "link down".
func dropRules(comment string) (dropped bool, rules []string) {
	dropped, notes := hub.ParseNotes(filter.WithoutEdits(comment), maxNotes)
	for _, n := range notes {
		if !hub.IsDropAction(n.Action) {
			continue
		}
		rule := "rule " + n.Rule
		switch {
		case n.Rule != "" && n.Action == "partition":
			rule = "partition " + n.Rule
		case n.Rule != "":
		case n.Action == "down":
			rule = "link down"
		default:
			rule = n.Action
		}
		if !slices.Contains(rules, rule) {
			rules = append(rules, rule)
		}
	}
	return dropped, rules
}

// quietWindow is the shortest window in which no frame from any VM
// suggests their NICs or netdevs are wrong: a failure in the first
// moments of a phase comes before a guest could send one.
const quietWindow = ms(time.Second)

// plural counts n things: "1 frame", "3 frames".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// describe says in one line what the counts suggest, as os2vm's hints do
// ("no SYN seen in PCAP; inspect dial issuance"), from the wire alone.
func (h *Hint) describe() string {
	var parts []string
	var counts []string
	var syn, synack int
	var synFrom []string
	for _, c := range h.Ports {
		counts = append(counts, fmt.Sprintf("%s sent %d (ARP %d, announces %d, SYN %d, SYN-ACK %d, RST %d, dropped %d)",
			c.Port, c.Frames, c.ARP, c.Announces, c.SYN, c.SYNACK, c.RST, c.Dropped))
		syn += c.SYN
		synack += c.SYNACK
		if c.SYN > 0 {
			synFrom = append(synFrom, c.Port)
		}
	}
	window := fmt.Sprintf("%.1fs-%.1fs", h.From.D().Seconds(), h.To.D().Seconds())
	var silent []string
	for _, c := range h.Ports {
		if c.Frames == 0 {
			silent = append(silent, c.Port)
		}
	}
	// A rule or partition that dropped every frame a VM sent is the cause
	// to say first: "every frame a and b sent ... was dropped by partition
	// trigger-1".
	var allBy []string               // rules, in order
	allFrom := map[string][]string{} // rule -> ports
	for _, c := range h.Ports {
		for _, d := range h.Drops {
			if c.Frames > 0 && d.From == c.Port && d.Frames == c.Frames {
				if allFrom[d.Rule] == nil {
					allBy = append(allBy, d.Rule)
				}
				allFrom[d.Rule] = append(allFrom[d.Rule], c.Port)
				break
			}
		}
	}
	for _, rule := range allBy {
		parts = append(parts, fmt.Sprintf("every frame %s sent in %s was dropped by %s", andList(allFrom[rule]), window, rule))
	}
	switch {
	case len(silent) == len(h.Ports) && len(h.Ports) > 0 && h.To-h.From < quietWindow:
		// Too short for a guest to have sent anything: no sign of a
		// broken NIC.
		parts = append(parts, fmt.Sprintf("no frame from any VM in %s", window))
	case len(silent) == len(h.Ports) && len(h.Ports) > 0:
		parts = append(parts, fmt.Sprintf("no frame from any VM in %s: inspect the VMs' NICs and netdevs", window))
	case len(silent) > 0:
		parts = append(parts, fmt.Sprintf("no frame from %s in %s", strings.Join(silent, ", "), window))
	}
	switch {
	case h.tcp == 0 && !h.checked:
		// No TCP in the window, none expected: SYNs would be beside the
		// point, but an unanswered ARP request is not.
		if len(h.arpAsked) > 0 && h.arpAnswered == 0 {
			parts = append(parts, fmt.Sprintf("ARP requests from %s got no reply", andList(h.arpAsked)))
		}
	case syn > 0:
		// A VM whose SYNs were all dropped reached no listener: say what
		// dropped them; of the listener only where a SYN got through.
		var delivered []string
		for _, port := range synFrom {
			if h.synDelivered[port] > 0 {
				delivered = append(delivered, port)
				continue
			}
			var by []string
			for _, d := range h.Drops {
				if d.From == port && d.SYN > 0 {
					by = append(by, d.Rule)
				}
			}
			what := fmt.Sprintf("every SYN from %s (%d) was dropped", port, h.counts[port].SYN)
			if len(by) > 0 {
				what += " by " + andList(by)
			}
			parts = append(parts, what)
		}
		switch {
		case len(delivered) == 0:
		case synack == 0:
			parts = append(parts, fmt.Sprintf("SYN from %s without a SYN-ACK: the listener did not answer", strings.Join(delivered, ", ")))
		case synack == h.synackLost:
			parts = append(parts, fmt.Sprintf("SYN from %s, and every SYN-ACK (%d) was dropped on its way back", strings.Join(delivered, ", "), synack))
		}
	case syn == 0 && len(h.arpAsked) > 0 && h.arpAnswered == 0:
		parts = append(parts, fmt.Sprintf("no SYN seen: ARP requests from %s got no reply, and without its peer's MAC a VM sends no SYN", andList(h.arpAsked)))
	case syn == 0 && len(silent) < len(h.Ports):
		parts = append(parts, "no SYN seen: no connection was attempted in the window")
	}
	for _, d := range h.Drops {
		what := fmt.Sprintf("%s from %s dropped by %s", plural(d.Frames, "frame"), d.From, d.Rule)
		var kinds []string
		if d.Announces > 0 {
			kinds = append(kinds, plural(d.Announces, "announce"))
		}
		if d.SYN > 0 {
			kinds = append(kinds, fmt.Sprintf("%d SYN", d.SYN))
		}
		if len(kinds) > 0 {
			what += " (" + strings.Join(kinds, ", ") + ")"
		}
		parts = append(parts, what+fmt.Sprintf(", the first at frame %d", d.First))
	}
	if h.Finding != nil {
		parts = append(parts, "checker: "+strings.Join(strings.Fields(h.Finding.String()), " "))
	}
	if len(counts) > 0 {
		parts = append(parts, "in "+window+": "+strings.Join(counts, "; "))
	}
	if h.Lost > 0 {
		parts = append(parts, fmt.Sprintf("the capture lost %d events in %s (its writer fell behind): these counts may be short", h.Lost, window))
	}
	if h.Err != "" {
		parts = append(parts, "capture: "+h.Err)
	}
	return strings.Join(parts, "; ")
}
