package loadgen

import (
	"fmt"
	"strings"
)

// FailOn is what fails a run (l2hub bench --fail-on): which of a report's
// checks must pass.
type FailOn string

// The values of FailOn.
const (
	// FailOnLoss: the lossless check (Check.Lossless), the hub's promise,
	// which holds under any load.
	FailOnLoss FailOn = "loss"
	// FailOnTargets: every measured target, whose ratios and latencies
	// depend on the machine and its load.
	FailOnTargets FailOn = "targets"
	// FailOnNone: no check; only the run itself failing.
	FailOnNone FailOn = "none"
)

// ParseFailOn returns the FailOn s names.
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(s); f {
	case FailOnLoss, FailOnTargets, FailOnNone:
		return f, nil
	}
	return "", fmt.Errorf("--fail-on %q: want %s, %s or %s", s, FailOnLoss, FailOnTargets, FailOnNone)
}

// Verdict returns the error a run fails with when the checks on names did
// not all pass (Failed), each with what it got, or nil.
func (r *Report) Verdict(on FailOn) error {
	if on == FailOnNone {
		return nil
	}
	bad := r.Failed(on == FailOnTargets)
	if len(bad) == 0 {
		return nil
	}
	msg := make([]string, len(bad))
	for i, c := range bad {
		msg[i] = c.Target + ": " + c.Got
	}
	return fmt.Errorf("%d target(s) failed (--fail-on %s):\n  %s", len(bad), on, strings.Join(msg, "\n  "))
}
