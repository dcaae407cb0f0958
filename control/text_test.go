package control_test

import (
	"testing"
	"time"

	"l2hub/control"
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
		{hub.PortStatus{Flow: hub.FlowStatus{Stalled: true, Paused: true}}, "stalled"},
		{hub.PortStatus{Flow: hub.FlowStatus{Overflow: hub.OverflowDrop}}, "drop"},
	} {
		if got := control.FlowText(tc.st); got != tc.flow {
			t.Errorf("FlowText(%+v) = %q, want %q", tc.st.Flow, got, tc.flow)
		}
	}
	if got := control.PausesText(hub.StatsSnapshot{Pauses: 4, Paused: 2500 * time.Microsecond}); got != "4 (3ms)" {
		t.Errorf("PausesText = %q, want %q", got, "4 (3ms)")
	}
}
