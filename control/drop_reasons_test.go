package control_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/internal/promtest"
)

// TestDropReasonsByPort: with WithDropReasons, a port has a drops series
// for each reason its list gives (0 until it happens) and for another only
// once it has counted a frame; a port with no list has every reason's.
func TestDropReasonsByPort(t *testing.T) {
	ports := func(context.Context) ([]hub.PortStatus, error) {
		return []hub.PortStatus{
			{Name: "s", Stats: hub.StatsSnapshot{Drops: map[string]uint64{"bad-encap": 2}}},
			{Name: "v"},
		}, nil
	}
	reasons := func(port string) []hub.DropReason {
		if port == "s" {
			return []hub.DropReason{hub.DropPolicy, hub.DropDown}
		}
		return nil
	}
	got := dropReasonsOf(t, control.NewCollector(ports, nil).WithDropReasons(reasons))
	if want := "port-down policy bad-encap"; strings.Join(sorted(got["s"]), " ") != strings.Join(sorted(strings.Fields(want)), " ") {
		t.Errorf("got port s's reasons %v, want %s", got["s"], want)
	}
	if n := len(got["v"]); n != len(hub.DropReasons()) {
		t.Errorf("got %d reasons for port v (no list), want all %d", n, len(hub.DropReasons()))
	}
	if n := len(dropReasonsOf(t, control.NewCollector(ports, nil))["s"]); n != len(hub.DropReasons()) {
		t.Errorf("got %d reasons for port s without WithDropReasons, want all %d", n, len(hub.DropReasons()))
	}
}

// dropReasonsOf returns the reasons of c's l2hub_port_drops_total series,
// by port.
func dropReasonsOf(t *testing.T, c prometheus.Collector) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return promtest.LabelsBy(t, reg, "l2hub_port_drops_total", "port", "reason")
}

// TestDropReasonsHelpNamesEveryReason: the help text of
// l2hub_port_drops_total says what each reason means.
func TestDropReasonsHelpNamesEveryReason(t *testing.T) {
	for _, r := range hub.DropReasons() {
		if !strings.Contains(control.DropReasonsHelp, r.String()+" (") {
			t.Errorf("DropReasonsHelp does not explain reason %q", r)
		}
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
