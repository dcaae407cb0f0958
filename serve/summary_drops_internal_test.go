package serve

import (
	"strings"
	"testing"

	"l2hub/control"
	"l2hub/hub"
)

// TestSummaryDropsAsCtlPorts: the exit summary's DROPS cell is ctl
// ports' (control.DropsText): "-" for none, the hub's reasons in their
// order, then a reason the table of reasons does not know.
func TestSummaryDropsAsCtlPorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drops map[string]uint64
		want  string
	}{
		{"none", nil, "-"},
		{"zero", map[string]uint64{"policy": 0}, "-"},
		{"known", map[string]uint64{"port-down": 1, "queue-full": 3}, control.DropsText(map[string]uint64{"port-down": 1, "queue-full": 3})},
		{"unknown", map[string]uint64{"queue-full": 3, "zz-newer": 2}, "queue-full=3 zz-newer=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := Summary{Ports: []PortSummary{{Name: "a", Stats: hub.StatsSnapshot{Drops: tc.drops}}}}
			var text strings.Builder
			sum.writeText(&text)
			var row string
			for line := range strings.Lines(text.String()) {
				if strings.HasPrefix(line, "a ") {
					row = strings.TrimRight(line, " \n")
				}
			}
			if !strings.HasSuffix(row, "  "+tc.want) {
				t.Errorf("got the summary's row %q, want its DROPS %q", row, tc.want)
			}
		})
	}
}
