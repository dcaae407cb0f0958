package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"l2hub/loadgen"
)

func TestBenchCommandRunsTheServePath(t *testing.T) {
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"bench", "--sizes", "64", "--ports", "2", "--patterns", "unicast",
		"--duration", "50ms", "--window", "16", "--latency=false", "--overload=false", "--targets", loadgen.TargetHubCapture, "--json"}, &out, &errs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errs.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed something else: %v\n%s", err, out.String())
	}
	got := map[string]loadgen.Result{}
	for _, r := range rep.Results {
		got[r.Name] = r
		if r.Err != "" {
			t.Errorf("%s: %s", r.Name, r.Err)
		}
	}
	hubRes, ok := got["throughput/"+loadgen.TargetHubCapture+"/tcp/unicast/2p/64B"]
	if !ok {
		t.Fatalf("got results %v, want the l2hub scenario", rep.Results)
	}
	if hubRes.Received == 0 || hubRes.Baseline != "throughput/direct/tcp/unicast/2p/64B" {
		t.Errorf("got %d received, baseline %q, want frames through the hub related to the direct pair", hubRes.Received, hubRes.Baseline)
	}
	// Both directions of every frame reach the capture (warm-up included).
	if w := hubRes.Counters["capture_written"]; w < 2*hubRes.Received {
		t.Errorf("got %d capture records for %d frames, want at least two per frame", w, hubRes.Received)
	}
	if len(rep.Checks) == 0 {
		t.Errorf("got no target checks")
	}
}

func TestBenchFlagsRefuseNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"--transport", "carrier-pigeon"},
		{"--targets", "nothing"},
		{"--patterns", "anycast"},
		{"--run", "("},
		{"--window", "-1"},
		{"--mode", "router"},
		{"--load", "1.5"},
		{"--fail-on", "sometimes"},
		{"--queue", "2000000"},
		{"--duration", "1ms"},
	} {
		t.Run(strings.TrimPrefix(args[0], "--"), func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), append([]string{"bench"}, args...), &out, &out); err == nil {
				t.Errorf("got no error for bench %v", args)
			}
		})
	}
}

// TestBenchRefusesABadMatrixUpFront: a port count or a frame size no
// scenario can run is refused before anything runs (no table, exit status
// 1), naming the value; the other flags keep the run short should it start.
func TestBenchRefusesABadMatrixUpFront(t *testing.T) {
	short := []string{"--duration", "50ms", "--window", "4", "--latency=false", "--stall=false", "--overload=false",
		"--open-loop=false", "--targets", loadgen.TargetHub}
	for _, tc := range []struct{ args, want string }{
		{"--ports 3 --sizes 64", "--ports 3: unicast pairs the VMs"},
		{"--ports 2 --sizes 10", "--sizes 10: want 40..69632 bytes"},
		{"--ports 2 --sizes 64 --queue 2000000", "--queue 2000000: flags: queue: 2000000 is outside 1..1048576"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var out, errs bytes.Buffer
			err := run(context.Background(), append(append([]string{"bench"}, strings.Fields(tc.args)...), short...), &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if out.Len() != 0 || errs.Len() != 0 {
				t.Errorf("ran something: stdout %q, stderr %q", out.String(), errs.String())
			}
		})
	}
}
