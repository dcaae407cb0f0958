package main

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/jsondoc"
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

// A policy's counters have one JSON shape wherever l2hub prints them: at
// the document's top level, "rules", "partitions" and "port_links" are
// lists, empty (never null) without a policy (serve --json and --summary,
// replay --json, ctl rules --json); "seed" is there even when it is 0;
// and every document says its "schema".
func TestRuleCountersHaveOneShape(t *testing.T) {
	st := &filter.Stats{
		Rules:      []filter.RuleStats{{Rule: "loss-a-b", Matched: 7, Dropped: 3}},
		Partitions: []filter.PartitionStats{{Name: "split", Groups: "a|b", Active: true, Dropped: 2}},
		Ports:      []filter.PortStats{{Port: "a", Down: true, Dropped: 1}},
	}
	// documents prints each command's document for the counters st (nil:
	// no policy).
	documents := func(st *filter.Stats) map[string][]byte {
		docs := map[string][]byte{}
		sum := serve.Summary{Schema: control.Schema, PolicyCounters: control.NewPolicyCounters(st)}
		docs["serve --json / --summary"], _ = json.Marshal(sum)
		var out bytes.Buffer
		job := &replay.JobResult{Result: &replay.Result{Rules: st}}
		if err := job.Report(&out, io.Discard, true); err != nil {
			t.Fatal(err)
		}
		docs["replay --json"] = out.Bytes()
		var stats filter.Stats
		if st != nil {
			stats = *st
		}
		var ctl bytes.Buffer
		if err := jsondoc.WriteJSON(&ctl, control.NewRulesDocument(stats)); err != nil {
			t.Fatal(err)
		}
		docs["ctl rules --json"] = ctl.Bytes()
		return docs
	}
	type shape struct {
		Schema     *int                    `json:"schema"`
		Seed       *uint64                 `json:"seed"`
		Rules      []filter.RuleStats      `json:"rules"`
		Partitions []filter.PartitionStats `json:"partitions"`
		PortLinks  []filter.PortStats      `json:"port_links"`
	}
	for what, b := range documents(st) {
		var got shape
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, b)
		}
		if got.Schema == nil || *got.Schema != control.Schema {
			t.Errorf("%s prints schema %v, want %d:\n%s", what, got.Schema, control.Schema, b)
		}
		if !reflect.DeepEqual(got.Rules, st.Rules) || !reflect.DeepEqual(got.Partitions, st.Partitions) || !reflect.DeepEqual(got.PortLinks, st.Ports) {
			t.Errorf("%s prints the counters as\n%s\nwant top-level lists rules %+v, partitions %+v, port_links %+v", what, b, st.Rules, st.Partitions, st.Ports)
		}
		if what != "ctl rules --json" && got.Seed == nil {
			t.Errorf("%s prints no seed:\n%s", what, b)
		}
	}
	for what, b := range documents(nil) {
		var got map[string]json.RawMessage
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, b)
		}
		for _, list := range []string{"rules", "partitions", "port_links"} {
			if string(got[list]) != "[]" {
				t.Errorf("%s without a policy prints %q as %s, want []", what, list, got[list])
			}
		}
	}
}
