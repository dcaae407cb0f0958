package main

import (
	"encoding/json"
	"testing"

	"l2hub/control"
	"l2hub/hub"
	"l2hub/replay"
	"l2hub/serve"
)

// A port's counters have one JSON shape wherever l2hub prints them: an
// object with the port's name and its counters under "stats" (ctl ports
// --json, replay --json, serve --json and --summary), so one script reads
// a live run's summary and its replay alike.
func TestPortCountersHaveOneShape(t *testing.T) {
	st := hub.StatsSnapshot{RxFrames: 7}
	for what, v := range map[string]any{
		"ctl ports --json":         control.PortStatus{PortStatus: hub.PortStatus{Name: "a", Stats: st}},
		"replay --json":            replay.PortResult{Name: "a", Stats: st},
		"serve --json / --summary": serve.PortSummary{Name: "a", Stats: st},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Name  string `json:"name"`
			Stats struct {
				RxFrames uint64 `json:"rx_frames"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(b, &got); err != nil || got.Name != "a" || got.Stats.RxFrames != 7 {
			t.Errorf("%s prints a port as %s, want {\"name\": \"a\", \"stats\": {\"rx_frames\": 7, ...}, ...}", what, b)
		}
	}
}
