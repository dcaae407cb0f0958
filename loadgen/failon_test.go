package loadgen

import (
	"strings"
	"testing"
)

// TestVerdictFailOn: by default bench exits non-zero only when the lossless
// promise failed; --fail-on targets also when another measured target
// did, never for one not measured; --fail-on none never.
func TestVerdictFailOn(t *testing.T) {
	lossy := Check{Target: "lossless", Got: "1 of 3 scenarios lost frames", Measured: true, Lossless: true}
	slow := Check{Target: "ratio", Got: "0.5x", Measured: true}
	unmeasured := Check{Target: "latency", Got: "not measured"}
	ok := Check{Target: "lossless", Got: "none lost", Measured: true, Pass: true, Lossless: true}
	for _, tc := range []struct {
		name   string
		checks []Check
		failOn FailOn
		want   string // in the error; "" for none
	}{
		{"loss/lost", []Check{lossy, slow}, FailOnLoss, "1 target(s) failed (--fail-on loss):\n  lossless: 1 of 3"},
		{"loss/slow", []Check{ok, slow, unmeasured}, FailOnLoss, ""},
		{"targets/slow", []Check{ok, slow, unmeasured}, FailOnTargets, "1 target(s) failed (--fail-on targets):\n  ratio: 0.5x"},
		{"targets/both", []Check{lossy, slow}, FailOnTargets, "2 target(s) failed"},
		{"targets/unmeasured", []Check{ok, unmeasured}, FailOnTargets, ""},
		{"none", []Check{lossy, slow}, FailOnNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Report{Checks: tc.checks}).Verdict(tc.failOn)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestVerdictFailsOnAnErroredHubScenario: a pause scenario that failed with
// an error (a hub process killed mid-run, after losing frames) fails the
// bench by default, and the message says it failed; --fail-on none does not.
func TestVerdictFailsOnAnErroredHubScenario(t *testing.T) {
	sc := Scenario{Kind: "throughput", Target: TargetHub, Transport: "tcp", Pattern: Unicast, Ports: 2, Size: 64}
	killed := Result{Name: sc.Name(), Scenario: sc, Expected: 1000, Received: 744, Lost: 256, LossRatio: 0.256,
		Err: sc.Name() + ": close: hub process: signal: killed"}
	rep := &Report{Results: []Result{killed}}
	rep.Evaluate(TargetHubPolicy, TargetHubCapture, "tcp")
	err := rep.Verdict(FailOnLoss)
	if err == nil || !strings.Contains(err.Error(), "failed with an error") || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("got %v, want a failure naming the scenario's error", err)
	}
	if err := rep.Verdict(FailOnNone); err != nil {
		t.Errorf("got %v with --fail-on none, want no error", err)
	}
}

// TestVerdictFailsOnADeadHubInTheOverload: the hub dying in the overload
// scenario, the one most likely to kill it, fails the bench under both
// --fail-on loss and --fail-on targets, though its loss is no verdict.
func TestVerdictFailsOnADeadHubInTheOverload(t *testing.T) {
	sc := Scenario{Kind: "overload", Target: TargetHubCapture, Transport: "tcp", Pattern: Unicast, Ports: 8, Size: 1500}
	killed := Result{Name: sc.Name(), Scenario: sc, Expected: 1000, Received: 10, Lost: 990, LossRatio: 0.99,
		Err: sc.Name() + ": close: hub process: signal: killed: time=x level=INFO msg=\"peer attached\""}
	rep := &Report{Results: []Result{killed}}
	rep.Evaluate(TargetHubPolicy, TargetHubCapture, "tcp")
	for _, failOn := range []FailOn{FailOnLoss, FailOnTargets} {
		if err := rep.Verdict(failOn); err == nil || !strings.Contains(err.Error(), "signal: killed") {
			t.Errorf("--fail-on %s: got %v, want a failure naming the overload's error", failOn, err)
		}
	}
}

// TestParseFailOn: --fail-on takes loss, targets or none, and says so of
// anything else.
func TestParseFailOn(t *testing.T) {
	for _, s := range []string{"loss", "targets", "none"} {
		if got, err := ParseFailOn(s); err != nil || string(got) != s {
			t.Errorf("got ParseFailOn(%q) = %q, %v; want %q", s, got, err, s)
		}
	}
	want := `--fail-on "all": want loss, targets or none`
	if _, err := ParseFailOn("all"); err == nil || err.Error() != want {
		t.Errorf("got ParseFailOn(\"all\") = %v, want %s", err, want)
	}
}
