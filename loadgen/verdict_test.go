package loadgen

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLosslessFailsOnErroredPauseScenarios: a pause scenario that failed
// with an error fails the lossless check, whether or not it lost frames
// before it failed, and so does a run whose every hub scenario failed; a
// scenario skipped as unsupported or cut short by an interrupt does not.
func TestLosslessFailsOnErroredPauseScenarios(t *testing.T) {
	rowOf := func(kind, target, tr, err string, lost uint64) Result {
		sc := Scenario{Kind: kind, Target: target, Transport: tr, Pattern: Unicast, Ports: 2, Size: 64}
		name := sc.Name()
		if err != "" {
			err = name + ": " + err
		}
		res := Result{Name: name, Scenario: sc, Lost: lost, Expected: 1000, LossRatio: float64(lost) / 1000, Err: err, Runs: 1}
		if lost > 0 {
			res.LossyRuns = 1
		}
		return res
	}
	row := func(target, err string, lost uint64) Result { return rowOf("throughput", target, "tcp", err, lost) }
	// interrupted is a scenario with runs runs done, lossy of them lossy,
	// before an interrupt (measure leaves the cut-short run out).
	interrupted := func(runs, lossy int, lost uint64) Result {
		res := row("l2hub", "", lost)
		res.Runs, res.LossyRuns = runs, lossy
		res.Err = InterruptedPrefix + res.Name + ": context canceled"
		return res
	}
	died := "close: hub process: signal: killed: level=INFO msg=listening | level=INFO msg=bye"
	for _, tc := range []struct {
		name     string
		rows     []Result
		measured bool
		pass     bool
		want     string // in Got
	}{
		{"clean", []Result{row("l2hub", "", 0), row("l2hub+policy", "", 0)}, true, true, "2 scenarios, none lost a frame"},
		{"died-after-losing", []Result{row("l2hub", died, 256), row("l2hub+policy", "", 0)}, true, false,
			"1 of 2 scenarios failed with an error: throughput/l2hub/tcp/unicast/2p/64B (lost 25.60%, then: close: hub process: signal: killed"},
		{"open-failed", []Result{row("l2hub", "open: flags: queue: 2000000 is outside 1..1048576", 0)}, true, false,
			"1 of 1 scenarios failed with an error"},
		{"every-hub-row-failed", []Result{row("l2hub", "warm-up: peers never heard each other", 0), row("l2hub+policy", "open: no", 0)}, true, false,
			"2 of 2 scenarios failed with an error"},
		{"error-and-loss", []Result{row("l2hub", "open: no", 0), row("l2hub+policy", "", 3)}, true, false,
			"1 of 2 scenarios failed with an error: throughput/l2hub/tcp/unicast/2p/64B (open: no); 1 of 2 scenarios lost frames"},
		{"skipped", []Result{{Scenario: Scenario{Target: "l2hub", Kind: "throughput"}, Err: SkippedPrefix + "udp: not supported"}, row("l2hub+policy", "", 0)}, true, true, "1 scenarios"},
		{"interrupted", []Result{{Scenario: Scenario{Target: "l2hub", Kind: "throughput"}, Err: InterruptedPrefix + "context canceled"}}, false, false, "no l2hub scenario measured"},
		{"drop-target-errored", []Result{row("l2hub+drop", "open: no", 0)}, false, false, "no l2hub scenario measured"},
		{"overload-lost", []Result{rowOf("overload", "l2hub+policy+capture", "tcp", "", 900), row("l2hub", "", 0)}, true, true,
			"1 scenarios, none lost a frame"},
		{"overload-died", []Result{rowOf("overload", "l2hub+policy+capture", "tcp", died, 900), row("l2hub", "", 0)}, true, false,
			"1 of 2 scenarios failed with an error: overload/l2hub+policy+capture/tcp/unicast/2p/64B (close: hub process: signal: killed"},
		{"interrupted-after-loss", []Result{interrupted(2, 1, 5)}, true, false,
			"1 of 1 scenarios lost frames: throughput/l2hub/tcp/unicast/2p/64B (0.50% in 1 of the 2 runs before the interrupt)"},
		{"interrupted-before-a-run", []Result{interrupted(0, 0, 5)}, false, false, "no l2hub scenario measured"},
		{"udp-lost", []Result{rowOf("throughput", "l2hub", "udp", "", 7), row("l2hub", "", 0)}, true, true,
			"2 scenarios, none lost a frame but udp ones, whose loss is not judged (a datagram port cannot push back): throughput/l2hub/udp/unicast/2p/64B (0.70%)"},
		{"udp-died", []Result{rowOf("throughput", "l2hub", "udp", died, 7)}, true, false, "1 of 1 scenarios failed with an error"},
		{"unix-lost", []Result{rowOf("throughput", "l2hub", "unix", "", 3)}, true, false,
			"1 of 1 scenarios lost frames: throughput/l2hub/unix/unicast/2p/64B (0.30%)"},
		{"udp-and-tcp-lost", []Result{rowOf("throughput", "l2hub", "udp", "", 7), row("l2hub", "", 3)}, true, false,
			"1 of 2 scenarios lost frames: throughput/l2hub/tcp/unicast/2p/64B (0.30%); not judged (a datagram port cannot push back): throughput/l2hub/udp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{Results: tc.rows}
			ck := rep.lossless()
			rep.Checks = []Check{ck}
			if ck.Measured != tc.measured || ck.Pass != tc.pass || !strings.Contains(ck.Got, tc.want) {
				t.Errorf("got lossless() = %+v, want measured %v, pass %v, Got containing %q", ck, tc.measured, tc.pass, tc.want)
			}
			if strings.Contains(ck.Got, "\n") {
				t.Errorf("got a check of several lines: %q", ck.Got)
			}
			if failed := len(rep.Failed(false)) > 0; failed != (tc.measured && !tc.pass) {
				t.Errorf("got Failed(false) non-empty = %v, want %v", failed, tc.measured && !tc.pass)
			}
		})
	}
}

// TestAnErroredOverloadFailsItsCheck: the overload scenario, the one most
// likely to kill a hub, fails its resident-set check when it errored,
// rather than dropping it; skipped or interrupted, it is not measured.
func TestAnErroredOverloadFailsItsCheck(t *testing.T) {
	sc := Scenario{Kind: "overload", Target: "l2hub+policy+capture", Transport: "tcp", Pattern: Unicast, Ports: 8, Size: 1500}
	for _, tc := range []struct {
		name, err string
		failed    bool
	}{
		{"died", sc.Name() + ": close: hub process: signal: killed: time=x level=INFO msg=hi", true},
		{"skipped", SkippedPrefix + sc.Name() + ": unsupported", false},
		{"interrupted", InterruptedPrefix + sc.Name() + ": context canceled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &Report{Results: []Result{{Name: sc.Name(), Scenario: sc, Err: tc.err}}}
			rep.Evaluate("l2hub+policy", "l2hub+policy+capture", "tcp")
			var rss []Check
			for _, c := range rep.Failed(true) {
				if strings.Contains(c.Target, "overload") {
					rss = append(rss, c)
				}
			}
			if got := len(rss) == 1; got != tc.failed {
				t.Errorf("got failed overload checks %+v from %+v, want one: %v", rss, rep.Checks, tc.failed)
			}
			if tc.failed && !strings.Contains(rss[0].Got, "failed: close: hub process: signal: killed") {
				t.Errorf("got %q, want the error in it", rss[0].Got)
			}
		})
	}
}

// TestShortErrNamesTheScenarioOnce: a table cell does not repeat the
// scenario's name the row starts with, after a skipped or interrupted
// mark either.
func TestShortErrNamesTheScenarioOnce(t *testing.T) {
	const name = "throughput/l2hub/udp/unicast/2p/64B"
	for _, tc := range []struct{ err, want string }{
		{name + ": close: boom", "close: boom"},
		{SkippedPrefix + name + ": open: unsupported", SkippedPrefix + "open: unsupported"},
		{InterruptedPrefix + name + ": context canceled", InterruptedPrefix + "context canceled"},
		{"warm-up: " + name, "warm-up: " + name},
	} {
		if got := shortErr(Result{Name: name, Err: tc.err}); got != tc.want {
			t.Errorf("got shortErr(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// cancelOnOpen is a bus that cancels the run's context in its second
// Open: an interrupt during the second of several runs.
type cancelOnOpen struct {
	bus
	cancel context.CancelFunc
}

func (c *cancelOnOpen) Name() string { return "l2hub" }

func (c *cancelOnOpen) Open(ctx context.Context, sc Scenario) (*Net, error) {
	n, err := c.bus.Open(ctx, sc)
	if c.opens.Load() == 2 {
		c.cancel()
	}
	return n, err
}

// TestCountKeepsTheRunsBeforeAnInterrupt: with Count, an interrupt does not
// hide the loss of the runs completed before it, and the run it cut short
// (whose frames in flight were never drained) is left out.
func TestCountKeepsTheRunsBeforeAnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	target := &cancelOnOpen{bus{copies: func(open, vm, n int) int {
		if open == 1 && vm == 0 && n == 1 {
			return 0
		}
		return 1
	}}, cancel}
	sc := Scenario{Kind: "throughput", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: 20 * time.Millisecond, Window: 8}
	res := (&Suite{Count: 3}).measure(ctx, sc, target)
	if !strings.HasPrefix(res.Err, InterruptedPrefix) || res.Runs != 1 || res.LossyRuns != 1 || res.Lost != 1 {
		t.Errorf("got err %q, %d runs, %d lossy, %d lost; want interrupted, the first run alone, its one frame lost", res.Err, res.Runs, res.LossyRuns, res.Lost)
	}
	rep := &Report{Results: []Result{res}}
	if ck := rep.lossless(); !ck.Measured || ck.Pass || !strings.Contains(ck.Got, "before the interrupt") {
		t.Errorf("got lossless() = %+v, want it failed on the loss before the interrupt", ck)
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`interrupted: context canceled \(lost \S+ in 1 of the 1 runs before\)`).MatchString(out.String()) {
		t.Errorf("the table does not show the loss before the interrupt:\n%s", out.String())
	}
}

// closeFails is a bus that loses the first data frame of its first Open
// and whose close fails in its second: a target that lost a frame in one
// run and died in the next.
type closeFails struct{ bus }

func (c *closeFails) Name() string { return "l2hub" }

func (c *closeFails) Open(ctx context.Context, sc Scenario) (*Net, error) {
	n, err := c.bus.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	if c.opens.Load() == 2 {
		close := n.Close
		n.Close = func() error { close(); return errors.New("hub process: signal: killed") }
	}
	return n, nil
}

// TestCountKeepsTheRunsBeforeAFailure: with Count, a run that fails does
// not throw away the runs before it: their loss stays in the result, which
// carries the error, and the lossless check fails.
func TestCountKeepsTheRunsBeforeAFailure(t *testing.T) {
	target := &closeFails{bus{copies: func(open, vm, n int) int {
		if open == 1 && vm == 0 && n == 1 {
			return 0
		}
		return 1
	}}}
	s := &Suite{Count: 3}
	sc := Scenario{Kind: "throughput", Transport: "bus", Size: 64, Ports: 2, Pattern: Unicast, Duration: 20 * time.Millisecond, Window: 8}
	res := s.measure(context.Background(), sc, target)
	if res.Err == "" || res.Runs != 2 || res.LossyRuns < 1 || res.Lost < 1 {
		t.Errorf("got err %q, %d runs, %d lossy, %d lost; want the error and both runs, the first one's loss kept", res.Err, res.Runs, res.LossyRuns, res.Lost)
	}
	if strings.Count(res.Err, res.Name) != 1 {
		t.Errorf("got error %q, want the scenario's name in it once", res.Err)
	}
	rep := &Report{Results: []Result{res}}
	if ck := rep.lossless(); !ck.Measured || ck.Pass {
		t.Errorf("got lossless() = %+v, want a failed check", ck)
	}
}

// TestInterruptedScenarioIsMarked: a scenario cut short by the run's
// cancellation is marked so, and left out of the lossless verdict.
func TestInterruptedScenarioIsMarked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	target := cancelOnData{pipeTarget{}, cancel}
	sc := Scenario{Kind: "throughput", Transport: "pipe", Size: 64, Ports: 2, Pattern: Unicast, Duration: time.Minute}
	res := (&Suite{Count: 1}).measure(ctx, sc, target)
	if !strings.HasPrefix(res.Err, InterruptedPrefix) {
		t.Errorf("got error %q, want it to start with %q", res.Err, InterruptedPrefix)
	}
}

// TestNoRatioAgainstAFailedBaseline: a row is not related to a direct pair
// whose run failed, even one that measured a rate before it did.
func TestNoRatioAgainstAFailedBaseline(t *testing.T) {
	base := Result{Name: "direct", Rate: 1000, Fanout: 1, Err: "direct: close: broken pipe"}
	rep := &Report{}
	(&Suite{}).add(rep, Result{Name: "l2hub", Rate: 900, Fanout: 1}, &base)
	if r := rep.Results[0]; r.Baseline != "" || r.Ratio != 0 {
		t.Errorf("got baseline %q ratio %v, want none against a failed direct run", r.Baseline, r.Ratio)
	}
}

// TestStderrTail: an error quotes the child's warnings, errors and crash,
// not the INFO lines it logged before it died; with none, its last line.
func TestStderrTail(t *testing.T) {
	info := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "time=x level=INFO msg=line%d\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct{ name, stderr, want string }{
		{"empty", "\n \n", ""},
		{"killed", info(50), "time=x level=INFO msg=line49"},
		{"panic", info(50) + "\n  panic: boom  \n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:5 +0x1d\n", "panic: boom"},
		{"warnings", "time=x level=WARN msg=a\n" + info(3) + "time=x level=ERROR msg=b\n" + info(3),
			"time=x level=WARN msg=a | time=x level=ERROR msg=b"},
		{"most-recent", "time=x level=WARN msg=a\ntime=x level=WARN msg=b\ntime=x level=WARN msg=c\ntime=x level=WARN msg=d\n",
			"time=x level=WARN msg=b | time=x level=WARN msg=c | time=x level=WARN msg=d"},
		{"json", `{"time":"x","level":"INFO","msg":"a"}` + "\n" + `{"time":"x","level":"ERROR","msg":"b"}` + "\n" + `{"time":"x","level":"INFO","msg":"c"}` + "\n",
			`{"time":"x","level":"ERROR","msg":"b"}`},
		{"exit-error", "time=x level=WARN msg=a\n" + info(5) + "l2hub: serve: port a: address in use\n" + info(1),
			"time=x level=WARN msg=a | l2hub: serve: port a: address in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stderrTail(tc.stderr); got != tc.want {
				t.Errorf("got stderrTail(...) = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTableMarksUnmeasuredChecks: a check the run did not measure reads
// n/a in the table, not FAIL: it fails no --fail-on.
func TestTableMarksUnmeasuredChecks(t *testing.T) {
	rep := &Report{Checks: []Check{{Target: "ratio", Got: "not measured"}, {Target: "loss", Got: "lost", Measured: true}, {Target: "p99", Got: "1µs", Measured: true, Pass: true}}}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  n/a  ratio: not measured\n", "  FAIL loss: lost\n", "  ok   p99: 1µs\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got table\n%s\nwant a line %q", b.String(), want)
		}
	}
}

// TestHubDropsLeaveOutTheTeardown: the frames the hub still held when the
// scenario closed its VMs (port-down, write-error) are not drops under
// load: the overload check and the table count them apart.
func TestHubDropsLeaveOutTheTeardown(t *testing.T) {
	sc := Scenario{Kind: "overload", Target: "l2hub+policy+capture", Transport: "tcp", Pattern: Unicast, Ports: 8, Size: 1500}
	rep := &Report{Results: []Result{{Name: sc.Name(), Scenario: sc,
		Counters: map[string]uint64{"hub_drop_port-down": 5, "hub_drop_write-error": 3, "hub_drop_queue-full": 2, "hub_pauses": 9}}}}
	if c := checkOf(t, rep, "overload"); !strings.Contains(c.Got, "; 2 frames dropped by the hub") {
		t.Errorf("got overload check %q, want the 2 queue-full drops only", c.Got)
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  hub dropped 2  8 still queued at the end  9 pauses") {
		t.Errorf("got table\n%s\nwant the row to say 2 dropped under load, 8 at the end", b.String())
	}
}
