package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub/hubtest"
	"l2hub/replay"
)

// Every command a script reads has --json, and its output parses.
func TestJSONOutputs(t *testing.T) {
	dir := t.TempDir()
	ctl := filepath.Join(dir, "ctl.sock")
	readyPath := filepath.Join(dir, "hub.ready")
	runServe(t, "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", ctl,
		"--ready-file", readyPath, "--loss", "a->b=100%", "--seed", "1")
	if _, _, err := runCmd(t, "wait", "--ready-file", readyPath, "--timeout", hangGuard.String()); err != nil {
		t.Fatal(err)
	}
	ports := readyPorts(t, readyPath)
	va := dialVM(t, ports["a"])
	dialVM(t, ports["b"]) // b's VM: inject needs one
	waitAttached(t, ctl, 2)
	if err := va.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, "dropped by the rule")); err != nil {
		t.Fatal(err)
	}
	waitRx(t, ctl, "a", 1)

	t.Run("ctl ports", func(t *testing.T) {
		out, _, err := runCmd(t, "ctl", "--control", ctl, "ports", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Schema int                  `json:"schema"`
			Ports  []control.PortStatus `json:"ports"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if got := doc.Ports; doc.Schema != control.Schema || len(got) != 2 || got[0].Name != "a" || got[0].Stats.RxFrames != 1 || !got[1].Attached {
			t.Errorf("schema %d, ports %+v", doc.Schema, got)
		}
	})
	t.Run("ctl rules", func(t *testing.T) {
		out, _, err := runCmd(t, "ctl", "--control", ctl, "rules", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var st filter.Stats
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(st.Rules) != 1 || st.Rules[0].Matched != 1 || st.Rules[0].Dropped != 1 {
			t.Errorf("rules %+v, want the one rule with one frame matched and dropped", st.Rules)
		}
		table, _, err := runCmd(t, "ctl", "--control", ctl, "rules")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "RULE") || strings.Join(strings.Fields(lines[1]), " ") != st.Rules[0].Rule+" 1 1 0 0 0 0 0" {
			t.Errorf("ctl rules printed:\n%s", table)
		}
	})
	t.Run("inject", func(t *testing.T) {
		out, stderr, err := runCmd(t, "inject", writeInjectCapture(t, dir, 5), "--into", "b", "--control", ctl, "--flood", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var rep struct {
			Schema int `json:"schema"`
			replay.InjectReport
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if rep.Schema != control.Schema || rep.Frames != 5 || rep.Paced {
			t.Errorf("inject report %+v, want schema %d and 5 frames sent unpaced", rep, control.Schema)
		}
	})
	t.Run("replay", func(t *testing.T) {
		out, _, err := runCmd(t, "replay", writeL2hubCapture(t, dir, 20), "--loss", "a->b=50%", "--seed", "3", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Schema   int    `json:"schema"`
			Seed     uint64 `json:"seed"`
			SeedFrom string `json:"seed_from"`
			Mode     string `json:"mode"`
			replay.Result
			control.PolicyCounters
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if res.Schema != control.Schema || res.Seed != 3 || res.SeedFrom != "--seed" || res.Mode == "" || res.Replayed == 0 || len(res.Ports) != 2 ||
			len(res.PolicyCounters.Rules) != 1 || res.PolicyCounters.Rules[0].Matched == 0 {
			t.Errorf("replay --json: %s", out)
		}
	})
}

// readyPorts reads the ports' addresses from a ready file.
func readyPorts(t *testing.T, path string) map[string]string {
	t.Helper()
	out, _, err := runCmd(t, "wait", "--ready-file", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Ports []struct{ Name, Addr string }
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range info.Ports {
		m[p.Name] = p.Addr
	}
	return m
}
