package control_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

func TestCtlPortsFlowColumns(t *testing.T) {
	for _, tc := range []struct {
		st   hub.PortStatus
		flow string
	}{
		{hub.PortStatus{}, "-"},
		{hub.PortStatus{Flow: hub.FlowStatus{Paused: true, PausedFor: 1234567 * time.Microsecond}}, "paused 1.235s"},
		{hub.PortStatus{Queued: 300, Flow: hub.FlowStatus{Congested: true}}, "holding 300"},
		{hub.PortStatus{Queued: 10, Flow: hub.FlowStatus{DelayHeld: true, Delayed: 4400}}, "holding 4410 (delay)"},
		{hub.PortStatus{Flow: hub.FlowStatus{DelayHeld: true, DelayHub: true, Delayed: 1}}, "holding 1 (delay, hub-wide)"},
		{hub.PortStatus{Queued: 300, Flow: hub.FlowStatus{Congested: true, DelayHeld: true, Delayed: 4400}}, "holding 300"},
		{hub.PortStatus{Flow: hub.FlowStatus{Stalled: true, Paused: true}}, "stalled"},
		{hub.PortStatus{Flow: hub.FlowStatus{Overflow: hub.OverflowDrop}}, "drop"},
	} {
		if got := control.FlowText(tc.st); got != tc.flow {
			t.Errorf("FlowText(%+v) = %q, want %q", tc.st.Flow, got, tc.flow)
		}
	}
	for _, tc := range []struct {
		paused time.Duration
		want   string
	}{
		{2500 * time.Microsecond, "4 (2.5ms)"},
		{112345 * time.Nanosecond, "4 (112µs)"}, // not "4 (0s)"
		{1234567 * time.Microsecond, "4 (1.235s)"},
		{300, "4 (300ns)"},
	} {
		if got := control.PausesText(hub.StatsSnapshot{Pauses: 4, Paused: tc.paused}); got != tc.want {
			t.Errorf("PausesText(%v) = %q, want %q", tc.paused, got, tc.want)
		}
	}
}

// TestWriteRules: rules, partitions and port links, each table
// only when it has rows; "no rules" when there are neither rules nor
// partitions.
func TestWriteRules(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   filter.Stats
		want string
	}{
		{"nothing", filter.Stats{}, "no rules\n"},
		{"links", filter.Stats{Ports: []filter.PortStats{{Port: "b", Down: true, Dropped: 10}, {Port: "c", Dropped: 2}}},
			"no rules\n\nLINK  STATE  DROPPED\nb     down   10\nc     up     2\n"},
		{"links-up-and-unused", filter.Stats{Ports: []filter.PortStats{{Port: "a"}}}, "no rules\n"},
		{"rules-and-links", filter.Stats{
			Rules: []filter.RuleStats{{Rule: "loss", Matched: 4, Dropped: 1}},
			Ports: []filter.PortStats{{Port: "a", Down: true, Dropped: 1}},
		}, "RULE  MATCHED  DROPPED  DELAYED  DUPLICATED  CORRUPTED  QUEUED  OVERFLOWED\nloss  4        1        0        0           0          0       0\n\nLINK  STATE  DROPPED\na     down   1\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := control.WriteRules(&b, tt.st); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestDropsColumn: ctl ports' DROPS column says "-" when a port dropped
// nothing, as serve's summary does, and lists the reasons with drops in
// the hub's order.
func TestDropsColumn(t *testing.T) {
	rs := hub.DropReasons()
	first, second := rs[0].String(), rs[1].String()
	for _, tc := range []struct {
		drops map[string]uint64
		want  string
	}{
		{nil, "-"},
		{map[string]uint64{first: 0}, "-"},
		{map[string]uint64{second: 2, first: 1, "from-a-newer-hub": 3}, first + "=1 " + second + "=2 from-a-newer-hub=3"},
	} {
		if got := control.DropsText(tc.drops); got != tc.want {
			t.Errorf("DropsText(%v) = %q, want %q", tc.drops, got, tc.want)
		}
	}
	var b bytes.Buffer
	if err := control.WritePorts(&b, []control.PortStatus{{PortStatus: hub.PortStatus{Name: "a"}, Link: "up"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) == 0 || f[len(f)-1] != "-" {
		t.Errorf("ctl ports, a port without drops:\n%s\nwant its DROPS cell \"-\"", b.String())
	}
}

func TestRemovedText(t *testing.T) {
	d := filter.RuleDescription{Name: "loss-a-b", Counters: filter.RuleStats{Matched: 9, Dropped: 1, Delayed: 2, Duplicated: 3, Corrupted: 4, Queued: 5, Overflowed: 6}}
	want := "rule loss-a-b removed (matched 9, dropped 1, delayed 2, duplicated 3, corrupted 4, queued 5, overflowed 6)"
	if got := control.RemovedText(d); got != want {
		t.Errorf("got RemovedText = %q, want %q", got, want)
	}
}
