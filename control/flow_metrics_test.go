package control_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"l2hub/control"
	"l2hub/hub"
)

// TestMetricsExportFlowControl: what ctl ports shows of flow control is on
// /metrics too: senders paused now, pauses and the time they lasted, stalls,
// and what waits in each port's queue.
func TestMetricsExportFlowControl(t *testing.T) {
	ports := func(context.Context) ([]hub.PortStatus, error) {
		return []hub.PortStatus{
			{Name: "a", Attached: true, Flow: hub.FlowStatus{Paused: true, PausedFor: time.Second},
				Stats: hub.StatsSnapshot{Pauses: 3, Paused: 1500 * time.Millisecond}},
			{Name: "b", Attached: true, Queued: 300, Flow: hub.FlowStatus{Congested: true}},
			{Name: "c", Attached: true, Queued: 8192, Flow: hub.FlowStatus{Stalled: true},
				Stats: hub.StatsSnapshot{Stalls: 2, Drops: map[string]uint64{"stalled": 40}}},
		}, nil
	}
	text := collectorText(t, ports)
	wantMetrics(t, text,
		`l2hub_port_paused{port="a"} 1`,
		`l2hub_port_paused{port="b"} 0`,
		`l2hub_port_pauses_total{port="a"} 3`,
		`l2hub_port_paused_seconds_total{port="a"} 2.5`, // 1.5 s over ended pauses, 1 s of the current one
		`l2hub_port_queued_frames{port="b"} 300`,
		`l2hub_port_stalled{port="c"} 1`,
		`l2hub_port_stalls_total{port="c"} 2`,
		`l2hub_port_drops_total{port="c",reason="stalled"} 40`,
		`l2hub_port_drops_total{port="c",reason="kernel-overflow"} 0`,
	)
}

// wantMetrics checks that text, a scrape in the text exposition format,
// has each of lines.
func wantMetrics(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, want := range lines {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// collectorText is one scrape of a collector of ports (and no rules), in
// the text exposition format.
func collectorText(t *testing.T, ports func(context.Context) ([]hub.PortStatus, error)) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(control.NewCollector(ports, nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
