package control

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"l2hub/filter"
	"l2hub/hub"
)

// WritePorts writes ports as the table `l2hub ctl ports` shows: peer (-
// when none is attached), link (PortStatus.Link: up, down, not-open when
// the port's transport could not be opened, or no-peer when it is up but
// no VM is attached), active partitions, flow control (FlowText), pauses
// (PausesText) and counters. Under a port whose transport could not be
// opened, an indented line saying why ("not open: ..."). Under a port with a
// learning table of its own (a VXLAN port's), an indented line for it
// (LearningText); under a port with remote endpoints (a VXLAN port's
// VTEPs), one indented line per remote (RemoteText, its age taken from
// the clock of the machine ctl runs on).
func WritePorts(w io.Writer, ports []PortStatus) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tPEER\tLINK\tPARTITIONS\tFLOW\tPAUSES\tRX FRAMES\tRX BYTES\tTX FRAMES\tTX BYTES\tDROPS")
	for _, p := range ports {
		peer := "-"
		if p.Attached {
			peer = p.Peer
		}
		parts := "-"
		if len(p.Partitions) > 0 {
			parts = strings.Join(p.Partitions, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.Name, peer, p.Link, parts,
			FlowText(p.PortStatus), PausesText(p.Stats), p.Stats.RxFrames, p.Stats.RxBytes,
			p.Stats.TxFrames, p.Stats.TxBytes, DropsText(p.Stats.Drops))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// A line without tabs would end the table's columns, so the remotes'
	// lines go in once it is aligned: after the header, a row per port.
	now := time.Now()
	rows := strings.SplitAfter(table.String(), "\n")
	var out bytes.Buffer
	out.WriteString(rows[0])
	for i, p := range ports {
		out.WriteString(rows[i+1])
		if p.NotOpen != "" {
			fmt.Fprintf(&out, "  not open: %s\n", p.NotOpen)
		}
		if p.Learning != nil {
			fmt.Fprintf(&out, "  %s\n", LearningText(*p.Learning))
		}
		if len(p.Remotes) == 0 {
			continue
		}
		rw := tabwriter.NewWriter(&out, 2, 8, 2, ' ', 0) // the port's remotes in columns
		for _, r := range p.Remotes {
			fmt.Fprintf(rw, "  %s\n", strings.Join(remoteFields(r, now), "\t"))
		}
		if err := rw.Flush(); err != nil {
			return err
		}
	}
	for _, row := range rows[len(ports)+1:] { // none, unless a peer's name holds a newline
		out.WriteString(row)
	}
	_, err := out.WriteTo(w)
	return err
}

// DropsText is a port's drops as the DROPS column shows them, in ctl
// ports as in serve's summary: "queue-full=3 port-down=1", each reason
// with drops in hub.DropReasons's order (then any reason a newer hub
// names, sorted), or "-" when there are none.
func DropsText(drops map[string]uint64) string {
	var out []string
	known := map[string]bool{}
	for _, r := range hub.DropReasons() {
		known[r.String()] = true
		if n := drops[r.String()]; n > 0 {
			out = append(out, fmt.Sprintf("%s=%d", r, n))
		}
	}
	for _, r := range slices.Sorted(maps.Keys(drops)) {
		if n := drops[r]; n > 0 && !known[r] {
			out = append(out, fmt.Sprintf("%s=%d", r, n))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

// LearningText is a port's own learning table as `ctl ports` shows it
// under the port: "learned 12 of 4096 MACs  evicted 0  moved 1".
func LearningText(l hub.LearningStatus) string {
	return fmt.Sprintf("learned %d of %d MACs  evicted %d  moved %d", l.Entries, l.Size, l.Evicted, l.Moves)
}

// RemoteText is one remote endpoint of a port as `ctl ports` shows it
// under the port: "remote 10.0.0.2  sent 12  received 9  heard 3s ago",
// "heard never" when nothing came from it, and "quiet" at the end once
// the port has logged it as quiet. Its age is now's, in whole seconds.
func RemoteText(r hub.RemoteStatus, now time.Time) string {
	return strings.Join(remoteFields(r, now), "  ")
}

func remoteFields(r hub.RemoteStatus, now time.Time) []string {
	heard := "never"
	if !r.LastHeard.IsZero() {
		heard = max(now.Sub(r.LastHeard), 0).Round(time.Second).String() + " ago"
	}
	f := []string{"remote " + r.Addr, fmt.Sprintf("sent %d", r.Sent), fmt.Sprintf("received %d", r.Received), "heard " + heard}
	if r.Quiet {
		f = append(f, "quiet")
	}
	return f
}

// FlowText is a port's flow control now: "paused 1.2s", "holding N",
// "holding N (delay)" for a port whose queued and delayed frames together
// hold back the senders of the delayed ones (N counts both), "holding N
// (delay, hub-wide)" when the hub-wide delay mark holds them, "stalled",
// with ",drop" for a tail-dropping port, or "-".
func FlowText(p hub.PortStatus) string {
	var parts []string
	switch fl := p.Flow; {
	case fl.Stalled:
		parts = append(parts, "stalled")
	case fl.Paused:
		parts = append(parts, "paused "+fl.PausedFor.Round(time.Millisecond).String())
	case fl.Congested:
		parts = append(parts, fmt.Sprintf("holding %d", p.Queued))
	case fl.DelayHeld && fl.DelayHub:
		parts = append(parts, fmt.Sprintf("holding %d (delay, hub-wide)", p.Queued+fl.Delayed))
	case fl.DelayHeld:
		parts = append(parts, fmt.Sprintf("holding %d (delay)", p.Queued+fl.Delayed))
	}
	if p.Flow.Overflow == hub.OverflowDrop {
		parts = append(parts, "drop")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// PausesText is how often a port was paused and for how long in all, to
// about two digits below a second ("2 (112µs)", "4 (2.5ms)") and to the
// millisecond above: a short pause does not read as none ("2 (0s)").
func PausesText(st hub.StatsSnapshot) string {
	if st.Pauses == 0 {
		return "0"
	}
	d := st.Paused
	switch {
	case d >= time.Second:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(100 * time.Microsecond)
	case d >= time.Microsecond:
		d = d.Round(time.Microsecond)
	}
	return fmt.Sprintf("%d (%s)", st.Pauses, d)
}

// RemovedText is the line `l2hub ctl rule remove` prints of the rule it
// removed, d as the hub returned it, with its last counters: "rule
// loss-a-b removed (matched 9, dropped 1, delayed 0, ...)".
func RemovedText(d filter.RuleDescription) string {
	c := d.Counters
	return fmt.Sprintf("rule %s removed (matched %d, dropped %d, delayed %d, duplicated %d, corrupted %d, queued %d, overflowed %d)",
		d.Name, c.Matched, c.Dropped, c.Delayed, c.Duplicated, c.Corrupted, c.Queued, c.Overflowed)
}

// WriteRules writes a policy's counters as the tables `l2hub ctl rules`
// and serve's exit summary show: one row per rule, then the partitions,
// then each port link that is down (a schedule or ctl link took it down)
// or dropped frames while it was; "no rules" when there are neither rules
// nor partitions.
func WriteRules(w io.Writer, st filter.Stats) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if len(st.Rules) == 0 && len(st.Partitions) == 0 {
		fmt.Fprintln(tw, "no rules")
	}
	if len(st.Rules) > 0 {
		fmt.Fprintln(tw, "RULE\tMATCHED\tDROPPED\tDELAYED\tDUPLICATED\tCORRUPTED\tQUEUED\tOVERFLOWED")
		for _, r := range st.Rules {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Rule, r.Matched, r.Dropped, r.Delayed, r.Duplicated, r.Corrupted, r.Queued, r.Overflowed)
		}
	}
	if len(st.Partitions) > 0 {
		if len(st.Rules) > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, "PARTITION\tGROUPS\tACTIVE\tDROPPED")
		for _, p := range st.Partitions {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", p.Name, p.Groups, p.Active, p.Dropped)
		}
	}
	// A table of its own: its columns are not the partitions'.
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	head := false
	for _, p := range st.Ports {
		if !p.Down && p.Dropped == 0 {
			continue // up, and never cost a frame
		}
		if !head {
			fmt.Fprintln(tw, "\nLINK\tSTATE\tDROPPED")
			head = true
		}
		state := "up"
		if p.Down {
			state = "down"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", p.Port, state, p.Dropped)
	}
	return tw.Flush()
}
