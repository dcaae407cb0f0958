package loadgen

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBystanders(t *testing.T) {
	r := newRun(Scenario{Ports: 3, Bystanders: 1, Pattern: Broadcast}, make([]VM, 3))
	for _, tc := range []struct {
		i, j          int
		hears, counts bool
	}{
		{0, 1, true, true},
		{1, 0, true, true},
		{2, 0, true, false},  // a bystander hears broadcasts, uncounted
		{0, 2, false, false}, // and sends nothing
		{2, 2, false, false},
	} {
		if h, c := r.hears(tc.i, tc.j), r.expects(tc.i, tc.j); h != tc.hears || c != tc.counts {
			t.Errorf("VM %d from VM %d: hears %v counts %v, want %v %v", tc.i, tc.j, h, c, tc.hears, tc.counts)
		}
	}
	if err := (Scenario{Size: 64, Ports: 4, Bystanders: 1, Pattern: Unicast, Duration: time.Second}).Validate(); err == nil {
		t.Error("a unicast scenario with one sender of a pair left over was accepted")
	}
	if err := (Scenario{Size: 64, Ports: 3, Bystanders: 1, Pattern: Broadcast, Duration: time.Second, From: 2 * time.Second}).Validate(); err == nil {
		t.Error("a From past the duration was accepted")
	}
}

// TestBystanderIsOwedNothing: in the stall scenario's shape (three VMs,
// one a bystander that sends nothing and whose deliveries do not count)
// the bystander is owed no frames: a run where the two others got all of
// each other's loses nothing.
func TestBystanderIsOwedNothing(t *testing.T) {
	r := newRun(Scenario{Ports: 3, Bystanders: 1, Pattern: Broadcast, Size: 64, Duration: time.Second}, make([]VM, 3))
	r.sent[0].Store(100)
	r.sent[1].Store(100)
	r.rx[0].got.Store(100)
	r.rx[1].got.Store(100)
	var res Result
	r.fill(&res)
	if res.Expected != 200 || res.Lost != 0 || res.Fanout != 1 {
		t.Errorf("got expected %d lost %d fan-out %d, want 200 0 1", res.Expected, res.Lost, res.Fanout)
	}
}

// checkOf evaluates rep and returns the check whose target contains sub.
func checkOf(t *testing.T, rep *Report, sub string) Check {
	t.Helper()
	rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "tcp")
	for _, c := range rep.Checks {
		if strings.Contains(c.Target, sub) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", sub, rep.Checks)
	return Check{}
}

// stalledRow is the stall scenario's run with the bystander stalled, at
// ratio of the reference's rate, its resident set's peak growing from
// 20 MiB in the first half to peakLast in the second.
func stalledRow(ratio float64, peakLast uint64) Result {
	return Result{Scenario: Scenario{Kind: "stall", Target: "l2hub", StallBystanders: true, From: time.Second},
		Baseline: "ref", Ratio: ratio, RateFrom: 100 * ratio, RSSBefore: 10 << 20, RSSPeakFirst: 20 << 20, RSSPeakLast: peakLast}
}

func TestEvaluateJudgesLossAndStall(t *testing.T) {
	res := func(kind, target string, lost uint64) Result {
		sc := Scenario{Kind: kind, Target: target, Transport: "tcp", Pattern: Unicast, Ports: 2, Size: 64}
		return Result{Name: sc.Name(), Scenario: sc, Lost: lost, Expected: 100}
	}
	rep := &Report{Results: []Result{
		res("open", "direct", 0),
		res("open", "l2hub", 0),
		res("open", "l2hub+drop", 40), // tail drop is its point
		res("overload", "l2hub+policy+capture", 900),
	}}
	rep.Results = append(rep.Results, stalledRow(0.85, 21<<20))
	rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "tcp")
	byTarget := map[string]Check{}
	for _, c := range rep.Checks {
		byTarget[strings.SplitN(c.Target, ":", 2)[0]] = c
	}
	if c := byTarget["every overflow"]; !c.Measured || !c.Pass {
		t.Errorf("lossless check %+v: want it to pass with the drop and overload runs left out", c)
	}
	if c := byTarget["l2hub stalled third port"]; !c.Measured || !c.Pass {
		t.Errorf("stall check %+v: want it to pass at 0.85x with RSS flat", c)
	}

	rep.Results[1].Lost = 1
	rep.Results[4].Ratio = 0.5
	rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "tcp")
	for _, c := range rep.Checks {
		if (strings.HasPrefix(c.Target, "every overflow") || strings.Contains(c.Target, "stalled third port")) && c.Pass {
			t.Errorf("check %+v passed with a frame lost and the stall ratio at 0.5", c)
		}
	}
}

func TestSuiteRunsOpenLoop(t *testing.T) {
	s := &Suite{
		Sizes: []int{64}, Ports: []int{2}, Patterns: []Pattern{Unicast}, Duration: 20 * time.Millisecond, Window: 16,
		OpenLoop: true, Targets: []Target{pipeTarget{}},
	}
	rep, names := runSuite(t, s)
	for _, r := range rep.Results {
		if r.Scenario.Kind == "open" && r.Scenario.Window != 0 {
			t.Errorf("%s: window %d, want open loop", r.Name, r.Scenario.Window)
		}
	}
	want := []string{"throughput/direct/tcp/unicast/2p/64B", "throughput/pipe/tcp/unicast/2p/64B",
		"open/direct/tcp/unicast/2p/64B", "open/pipe/tcp/unicast/2p/64B"}
	if !slices.Equal(names, want) {
		t.Fatalf("got scenarios %q, want %q", names, want)
	}
	if open := rep.Results[3]; open.Baseline != want[2] {
		t.Errorf("the open-loop run is related to %q, want the open-loop direct pair", open.Baseline)
	}
}

// TestEvaluateJudgesRatesAtEveryPortCount: the rate targets hold for 2 and
// 32 ports: a 32-port scenario below the ratio fails its own check, and a
// run without 32 ports is judged on 2 alone.
func TestEvaluateJudgesRatesAtEveryPortCount(t *testing.T) {
	res := func(kind, target string, ports, size int, ratio float64) Result {
		sc := Scenario{Kind: kind, Target: target, Transport: "tcp", Pattern: Unicast, Ports: ports, Size: size}
		return Result{Name: sc.Name(), Scenario: sc, Baseline: "direct", Ratio: ratio, Rate: 1000 * ratio}
	}
	var results []Result
	for _, size := range []int{64, 1500} {
		results = append(results,
			res("open", "l2hub+policy", 2, size, 2.0),
			res("open", "l2hub+policy", 32, size, 0.6),
			res("open", "l2hub+policy+capture", 2, size, 1.5))
	}
	rep := &Report{Results: results}
	rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "tcp")
	got := map[string]bool{}
	for _, c := range rep.Checks {
		if c.Measured {
			got[c.Target] = c.Pass
		}
	}
	for target, pass := range map[string]bool{
		"open l2hub+policy unicast 2 ports 64B >= 0.9x direct":           true,
		"open l2hub+policy unicast 32 ports 1500B >= 0.9x direct":        false,
		"open l2hub+policy+capture unicast 2 ports 1500B >= 0.8x direct": true,
	} {
		if p, ok := got[target]; !ok || p != pass {
			t.Errorf("check %q: measured %v, pass %v; want pass %v (checks: %v)", target, ok, p, pass, got)
		}
	}
	for target := range got {
		if strings.Contains(target, "capture unicast 32 ports") {
			t.Errorf("check %q judged a scenario the run did not have", target)
		}
	}
}

// TestRSSGrowthFailsItsCheck: the overload and stalled-port targets ask
// for a flat resident set: the second half's peak 32 MiB above the first
// half's fails the check, and --fail-on targets, where 1 MiB passes.
func TestRSSGrowthFailsItsCheck(t *testing.T) {
	overload := func(peakLast uint64) Result {
		sc := Scenario{Kind: "overload", Target: "l2hub+policy+capture", Transport: "tcp", Pattern: Unicast, Ports: 8, Size: 1500}
		return Result{Name: sc.Name(), Scenario: sc, RSSBefore: 10 << 20, RSSPeakFirst: 20 << 20, RSSPeakLast: peakLast}
	}
	for _, tc := range []struct {
		name  string
		row   func(peakLast uint64) Result
		check string
	}{
		{"overload", overload, "overload"},
		{"stall", func(peakLast uint64) Result { return stalledRow(0.95, peakLast) }, "stalled third port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, peakLast := range []uint64{21 << 20, 52 << 20} {
				rep := &Report{Results: []Result{tc.row(peakLast)}}
				pass := peakLast < 30<<20
				if c := checkOf(t, rep, tc.check); !c.Measured || c.Pass != pass {
					t.Errorf("peak 20 MiB then %s: got %+v, want measured, pass %v", fmtBytes(peakLast), c, pass)
				}
				if err := rep.Verdict(FailOnTargets); (err == nil) != pass {
					t.Errorf("peak 20 MiB then %s: got Verdict(targets) = %v, want it to fail: %v", fmtBytes(peakLast), err, !pass)
				}
			}
		})
	}
}

// TestPortScaleCheckFailsWhen32PortsCostMore: 32 ports costing twice the
// CPU per frame of 2 ports fails the port-scaling target; 5% more passes.
func TestPortScaleCheckFailsWhen32PortsCostMore(t *testing.T) {
	row := func(ports int, cpu time.Duration) Result {
		sc := Scenario{Kind: "throughput", Target: "l2hub+policy", Transport: "tcp", Pattern: Unicast, Ports: ports, Size: 64}
		return Result{Name: sc.Name(), Scenario: sc, CPUPerFrame: cpu, Rate: 1000}
	}
	for _, tc := range []struct {
		cpu32 time.Duration
		pass  bool
	}{{2000, false}, {1050, true}} {
		c := checkOf(t, &Report{Results: []Result{row(2, 1000), row(32, tc.cpu32)}}, "32 ports cost within")
		if !c.Measured || c.Pass != tc.pass {
			t.Errorf("32 ports at %v/frame vs 1µs: got %+v, want measured, pass %v", tc.cpu32, c, tc.pass)
		}
	}
}
