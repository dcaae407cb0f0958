package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBroadcastRowsHaveNoDirectRatio: a broadcast to three VMs delivers
// each frame three times; relating those deliveries to a direct pair's
// unicast frames would make the hub look three times better than it is, so
// such a row gets no ratio, while 2-port broadcast and unicast keep theirs.
func TestBroadcastRowsHaveNoDirectRatio(t *testing.T) {
	for _, tc := range []struct {
		ports   int
		pattern Pattern
		fanout  int
	}{{4, Broadcast, 3}, {2, Broadcast, 1}, {4, Unicast, 1}} {
		sc := Scenario{Kind: "test", Transport: "bus", Size: 64, Ports: tc.ports, Pattern: tc.pattern, Duration: 20 * time.Millisecond, Rate: 5000}
		res, err := Run(context.Background(), sc, &bus{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fanout != tc.fanout || res.Expected != uint64(tc.fanout)*res.Sent || res.Received != res.Expected {
			t.Errorf("%s: got fan-out %d, %d sent, %d expected, %d received; want fan-out %d and every copy delivered",
				res.Name, res.Fanout, res.Sent, res.Expected, res.Received, tc.fanout)
		}
	}

	s := &Suite{Sizes: []int{64}, Ports: []int{4}, Patterns: []Pattern{Unicast, Broadcast}, Duration: 20 * time.Millisecond,
		Window: 16, Targets: []Target{&bus{name: "l2hub"}}}
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Result{}
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Fatalf("%s: %s", r.Name, r.Err)
		}
		rows[r.Name] = r
	}
	uni, bc := rows["throughput/l2hub/tcp/unicast/4p/64B"], rows["throughput/l2hub/tcp/broadcast/4p/64B"]
	if uni.Baseline == "" || uni.Ratio <= 0 || uni.CPURatio <= 0 {
		t.Errorf("unicast row: baseline %q, ratio %v, CPU ratio %v; want it related to the direct pair", uni.Baseline, uni.Ratio, uni.CPURatio)
	}
	if bc.Fanout != 3 || bc.Baseline != "" || bc.Ratio != 0 || bc.CPURatio != 0 {
		t.Errorf("broadcast row: fan-out %d, baseline %q, ratio %v, CPU ratio %v; want 3 and no ratio", bc.Fanout, bc.Baseline, bc.Ratio, bc.CPURatio)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^.*throughput/l2hub/tcp/broadcast/4p/64B.*$`).FindString(table.String())
	if f := strings.Fields(line); len(f) < 10 || f[7] != "-" || f[9] != "-" || !strings.Contains(line, "3 deliveries per frame") {
		t.Errorf("got the broadcast row %q, want - in both ratio columns and the fan-out noted", line)
	}
}

// TestCountSumsEveryRun: with Count 3, a frame lost in any run shows in
// the result and fails the lossless verdict, whichever run had the median
// rate. The bus drops each VM's first frame, which every sender writes
// however late the machine runs it, so the runs lose frames under any
// load.
func TestCountSumsEveryRun(t *testing.T) {
	b := &bus{name: "l2hub-bus", copies: func(open, _, n int) int {
		if (open == 1 || open == 3) && n == 1 {
			return 0
		}
		return 1
	}}
	s := &Suite{Sizes: []int{64}, Ports: []int{2}, Patterns: []Pattern{Unicast}, Duration: 20 * time.Millisecond,
		Window: 16, Count: 3, Targets: []Target{b}}
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var res *Result
	for i := range rep.Results {
		if rep.Results[i].Scenario.Target == b.Name() {
			res = &rep.Results[i]
		}
	}
	if res == nil || res.Err != "" {
		t.Fatalf("got results %+v, want the bus's", rep.Results)
	}
	if b.dropped[0] == 0 || b.dropped[1] != 0 || b.dropped[2] == 0 {
		t.Fatalf("the bus dropped %v frames by run, want some in the first and third", b.dropped)
	}
	if want := b.total(b.dropped); res.Runs != 3 || res.Lost != want || res.LossyRuns != 2 {
		t.Errorf("got %d runs, %d lost, %d lossy runs; want 3, %d (all runs' drops), 2", res.Runs, res.Lost, res.LossyRuns, want)
	}
	if want := b.total(b.writes); res.Sent != want || res.Expected != want {
		t.Errorf("got %d sent and %d expected, want every run's %d", res.Sent, res.Expected, want)
	}
	rep.Evaluate("l2hub-bus", "none", "tcp")
	if c := rep.Checks[0]; !c.Lossless || !c.Measured || c.Pass || !strings.Contains(c.Got, "in 2 of 3 runs") {
		t.Errorf("got lossless check %+v, want a failure naming the 2 lossy runs of 3", c)
	}
}

// TestCombineTakesMediansPerPercentile: rates and CPU come from the run
// with the median rate, each percentile is the median of the runs', and
// the counts are sums (frames due never sent too, which a latency row
// must show whichever run had them).
func TestCombineTakesMediansPerPercentile(t *testing.T) {
	ms := time.Millisecond
	runs := []Result{
		{Rate: 100, CPUPerFrame: 10, LatencyP50: 1 * ms, LatencyP99: 10 * ms, LatencyP999: 30 * ms, LatencyMax: 40 * ms, Sent: 10, Expected: 10, Received: 10, Unsent: 7},
		{Rate: 300, CPUPerFrame: 30, LatencyP50: 3 * ms, LatencyP99: 20 * ms, LatencyP999: 20 * ms, LatencyMax: 25 * ms, Sent: 30, Expected: 30, Received: 27, Lost: 3, Duplicates: 2},
		{Rate: 200, CPUPerFrame: 20, LatencyP50: 2 * ms, LatencyP99: 30 * ms, LatencyP999: 10 * ms, LatencyMax: 35 * ms, Sent: 20, Expected: 20, Received: 20, Counters: map[string]uint64{"hub_pauses": 4}},
	}
	got := combine(runs)
	want := Result{Rate: 200, CPUPerFrame: 20, LatencyP50: 2 * ms, LatencyP99: 20 * ms, LatencyP999: 20 * ms, LatencyMax: 40 * ms,
		Sent: 60, Expected: 60, Received: 57, Lost: 3, Duplicates: 2, Unsent: 7, LossRatio: 0.05, Runs: 3, LossyRuns: 1,
		Counters: map[string]uint64{"hub_pauses": 4}}
	if gj, wj := mustJSON(t, got), mustJSON(t, want); gj != wj {
		t.Errorf("got\n%s\nwant\n%s", gj, wj)
	}
	if one := combine(runs[1:2]); one.Runs != 1 || one.LossyRuns != 1 || one.Lost != 3 {
		t.Errorf("one run: got %d runs, %d lossy, %d lost; want 1, 1, 3", one.Runs, one.LossyRuns, one.Lost)
	}
}

// runSuite runs s, failing the test if it cannot, and returns its report
// and the names of its results in the order they ran.
func runSuite(t *testing.T, s *Suite) (*Report, []string) {
	t.Helper()
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
	}
	return rep, names
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLatencyCheckNeedsAReference: a latency row without the direct pair's
// (its run failed) has no added p99 to judge; and the target includes no
// loss.
func TestLatencyCheckNeedsAReference(t *testing.T) {
	row := func(baseline string, added time.Duration, lost uint64) Result {
		sc := Scenario{Kind: "latency", Target: "l2hub+policy", Transport: "tcp", Pattern: Unicast, Ports: 2, Size: 64}
		return Result{Name: sc.Name(), Scenario: sc, Baseline: baseline, AddedP99: added, Lost: lost, Expected: 100, LatencyP99: time.Millisecond}
	}
	for _, tc := range []struct {
		res            Result
		measured, pass bool
	}{
		{row("", 0, 0), false, false},
		{row("latency/direct/tcp/unicast/2p/64B", 50*time.Microsecond, 0), true, true},
		{row("latency/direct/tcp/unicast/2p/64B", 50*time.Microsecond, 1), true, false},
		{row("latency/direct/tcp/unicast/2p/64B", 150*time.Microsecond, 0), true, false},
	} {
		ck := checkOf(t, &Report{Load: 0.5, Results: []Result{tc.res}}, "added p99")
		if ck.Measured != tc.measured || ck.Pass != tc.pass {
			t.Errorf("baseline %q, added %v, lost %d: got check %+v, want measured %v pass %v",
				tc.res.Baseline, tc.res.AddedP99, tc.res.Lost, ck, tc.measured, tc.pass)
		}
	}
}

// TestAddedP99IsTheTargetsExtra: a latency row's added p99 is its p99
// minus the direct pair's, positive for a target slower than the direct
// pair (with the sign turned, every target would pass), and none is
// figured against a failed reference run.
func TestAddedP99IsTheTargetsExtra(t *testing.T) {
	ms := time.Millisecond
	ref := Result{Name: "latency/direct/tcp/unicast/2p/64B", Rate: 1000, LatencyP99: 1 * ms}
	for _, tc := range []struct {
		name     string
		row, ref Result
		want     time.Duration
	}{
		{"slower", Result{LatencyP99: 3 * ms}, ref, 2 * ms},
		{"faster", Result{LatencyP99: ms / 2}, ref, -ms / 2},
		{"failed-reference", Result{LatencyP99: 3 * ms}, Result{Err: "open: no", LatencyP99: ms}, 0},
		{"failed-row", Result{LatencyP99: 3 * ms, Err: "open: no"}, ref, 0},
	} {
		r := tc.row
		addP99(&r, tc.ref)
		if r.AddedP99 != tc.want {
			t.Errorf("%s: got added p99 %v for p99 %v against %v, want %v", tc.name, r.AddedP99, r.LatencyP99, tc.ref.LatencyP99, tc.want)
		}
	}
}

// TestStallRatioIsFromTheStallTimeOn: the stalled run is related to the
// reference by the rates from the stall time on (RateFrom), not the whole
// runs', which the time before the stall would pad; against a reference
// that failed or delivered nothing from then on it has no ratio.
func TestStallRatioIsFromTheStallTimeOn(t *testing.T) {
	ref := Result{Name: "stall/l2hub (all reading)", Rate: 1000, RateFrom: 1000}
	for _, tc := range []struct {
		name     string
		ref      Result
		baseline string
		ratio    float64
	}{
		{"measured", ref, ref.Name, 0.5},
		{"failed-reference", Result{Name: ref.Name, Rate: 1000, RateFrom: 1000, Err: "open: no"}, "", 0},
		{"nothing-from-then-on", Result{Name: ref.Name, Rate: 1000}, "", 0},
	} {
		res := Result{Rate: 900, RateFrom: 500} // fast until the stall, slow after it
		relateStall(&res, tc.ref)
		if res.Baseline != tc.baseline || res.Ratio != tc.ratio {
			t.Errorf("%s: got baseline %q ratio %v, want %q %v", tc.name, res.Baseline, res.Ratio, tc.baseline, tc.ratio)
		}
	}
}

// TestFilterMatchingNothingIsAnError: a --run that selects no scenario is
// refused before anything is measured.
func TestFilterMatchingNothingIsAnError(t *testing.T) {
	b := &bus{}
	s := &Suite{Sizes: []int{64}, Ports: []int{2}, Duration: 10 * time.Millisecond, LatencySizes: []int{64},
		Targets: []Target{b}, Filter: regexp.MustCompile("nomatch")}
	rep, err := s.Run(context.Background())
	if !errors.Is(err, ErrNoScenario) || rep != nil {
		t.Errorf("got %v, %v; want ErrNoScenario and no report", rep, err)
	}
	if n := b.opens.Load(); n != 0 {
		t.Errorf("the target was opened %d times, want none", n)
	}
	if _, err := suiteFrom(t, "--run", "nomatch", "--targets", "l2hub"); err == nil || !strings.Contains(err.Error(), "--run") {
		t.Errorf("got %v from --run nomatch, want an error naming the flag", err)
	}
	if _, err := suiteFrom(t, "--run", "latency/l2hub/", "--targets", "l2hub"); err != nil {
		t.Errorf("got %v from --run latency/l2hub/, want it accepted", err)
	}
}

// TestScenariosListsWhatRuns: the list the filter is checked against has
// every scenario a run measures.
func TestScenariosListsWhatRuns(t *testing.T) {
	s := &Suite{Sizes: []int{64}, Ports: []int{2}, Patterns: []Pattern{Unicast, Broadcast}, Duration: 10 * time.Millisecond,
		Window: 16, OpenLoop: true, LatencySizes: []int{64}, Targets: []Target{&bus{}}, Compare: []Target{&bus{name: "other"}}}
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range s.scenarios() {
		names = append(names, j.sc.withTarget(j.t).Name())
	}
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Name, r.Err)
		}
		if !slices.Contains(names, r.Name) {
			t.Errorf("%s ran but is not among the suite's scenarios %q", r.Name, names)
		}
	}
}

// TestOddPortsBroadcastHasNoErrorRow: broadcast among 3 VMs has no direct
// pair to measure, and no row says it failed to.
func TestOddPortsBroadcastHasNoErrorRow(t *testing.T) {
	s := &Suite{Sizes: []int{64}, Ports: []int{3}, Patterns: []Pattern{Broadcast}, Duration: 10 * time.Millisecond,
		Window: 16, Targets: []Target{&bus{}}}
	rep, names := runSuite(t, s)
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Name, r.Err)
		}
	}
	if want := []string{"throughput/bus/tcp/broadcast/3p/64B"}; !slices.Equal(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
}

// cancelling cancels the run when it is opened, as a Ctrl-C would.
type cancelling struct{ cancel context.CancelFunc }

func (cancelling) Name() string { return "cancelling" }

func (c cancelling) Open(ctx context.Context, _ Scenario) (*Net, error) {
	c.cancel()
	return nil, ctx.Err()
}

// TestInterruptedRunKeepsWhatFinished: a cancelled run returns the
// scenarios that finished, marked interrupted, with the run's parameters,
// and the table and JSON say so.
func TestInterruptedRunKeepsWhatFinished(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &Suite{Sizes: []int{64, 128}, Ports: []int{2}, Patterns: []Pattern{Unicast}, Duration: 10 * time.Millisecond,
		Window: 16, Count: 2, Targets: []Target{&bus{}, cancelling{cancel}}, Filter: regexp.MustCompile("64B")}
	rep, err := s.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancellation", err)
	}
	if rep == nil || !rep.Interrupted || rep.Machine.Took == "" {
		t.Fatalf("got report %+v, want one marked interrupted, with its time taken", rep)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
	}
	if want := []string{"throughput/direct/tcp/unicast/2p/64B", "throughput/bus/tcp/unicast/2p/64B", "throughput/cancelling/tcp/unicast/2p/64B"}; !slices.Equal(names, want) {
		t.Errorf("got %q, want %q", names, want)
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "INTERRUPTED") || !strings.Contains(table.String(), "throughput/bus/tcp/unicast/2p/64B") {
		t.Errorf("got table\n%s\nwant it marked interrupted, with the finished scenario", table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Interrupted bool `json:"interrupted"`
		Params      struct {
			Duration int64    `json:"duration_ns"`
			Count    int      `json:"count"`
			Window   int      `json:"window"`
			Filter   string   `json:"filter"`
			Targets  []string `json:"targets"`
		} `json:"params"`
		Results []struct {
			Scenario struct {
				Duration int64 `json:"duration_ns"`
			} `json:"scenario"`
		} `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Params
	if !got.Interrupted || p.Duration != int64(10*time.Millisecond) || p.Count != 2 || p.Window != 16 || p.Filter != "64B" ||
		!slices.Equal(p.Targets, []string{"direct", "bus", "cancelling"}) {
		t.Errorf("got JSON interrupted %v, params %+v; want true and the run's", got.Interrupted, p)
	}
	if len(got.Results) == 0 || got.Results[0].Scenario.Duration != int64(10*time.Millisecond) {
		t.Errorf("got results %+v, want each scenario's duration", got.Results)
	}
}

// TestFinishKeepsTheRunsError: the end of Suite.Run marks a cancelled run
// interrupted and returns the cancellation when the run had no error of
// its own, but never replaces an error of the run's own, with or without
// a cancellation. (Every error Run returns today is ctx's, so this checks
// the function that ends it rather than a run.)
func TestFinishKeepsTheRunsError(t *testing.T) {
	errOwn := errors.New("the run's own")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name        string
		ctx         context.Context
		err         error
		want        error
		interrupted bool
	}{
		{"done", context.Background(), nil, nil, false},
		{"own error", context.Background(), errOwn, errOwn, false},
		{"cancelled", cancelled, nil, context.Canceled, true},
		{"own error and cancelled", cancelled, errOwn, errOwn, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{}
			err := rep.finish(tc.ctx, time.Now(), tc.err)
			if err != tc.want || rep.Interrupted != tc.interrupted || rep.Machine.Took == "" {
				t.Errorf("got %v, interrupted %v, took %q; want %v, interrupted %v, and the time taken", err, rep.Interrupted, rep.Machine.Took, tc.want, tc.interrupted)
			}
		})
	}
}
