package control

import (
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
// when none is attached), link (PortStatus.Link: up, down, or no-peer when
// it is up but no VM is attached), active partitions, flow control
// (FlowText), pauses (PausesText) and counters.
func WritePorts(w io.Writer, ports []PortStatus) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
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
		var drops []string
		for _, r := range slices.Sorted(maps.Keys(p.Stats.Drops)) {
			drops = append(drops, fmt.Sprintf("%s=%d", r, p.Stats.Drops[r]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.Name, peer, p.Link, parts,
			FlowText(p.PortStatus), PausesText(p.Stats), p.Stats.RxFrames, p.Stats.RxBytes,
			p.Stats.TxFrames, p.Stats.TxBytes, strings.Join(drops, " "))
	}
	return tw.Flush()
}

// FlowText is a port's flow control now: "paused 1.2s", "holding N",
// "stalled", with ",drop" for a tail-dropping port, or "-".
func FlowText(p hub.PortStatus) string {
	var parts []string
	switch fl := p.Flow; {
	case fl.Stalled:
		parts = append(parts, "stalled")
	case fl.Paused:
		parts = append(parts, "paused "+fl.PausedFor.Round(time.Millisecond).String())
	case fl.Congested:
		parts = append(parts, fmt.Sprintf("holding %d", p.Queued))
	}
	if p.Flow.Overflow == hub.OverflowDrop {
		parts = append(parts, "drop")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// PausesText is how often a port was paused and for how long in all.
func PausesText(st hub.StatsSnapshot) string {
	if st.Pauses == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", st.Pauses, st.Paused.Round(time.Millisecond))
}

// WriteRules writes a policy's counters as the tables `l2hub ctl rules`
// shows: one row per rule, then the partitions.
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
	return tw.Flush()
}
