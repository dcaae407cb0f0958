//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestChildArgs: the child's -test.timeout is what remains of the parent's,
// whatever spelling the parent was given, and nothing else changes.
func TestChildArgs(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    string
		timeout time.Duration
		want    string
	}{
		{"go-test", "-test.paniconexit0 -test.timeout=10m0s -test.v=true -test.count=1", 7 * time.Minute,
			"-test.timeout=7m0s -test.paniconexit0 -test.v=true -test.count=1"},
		{"no-timeout-given", "-test.v -test.run=TestX", time.Minute, "-test.timeout=1m0s -test.v -test.run=TestX"},
		{"separate-value", "-test.timeout 10m -test.run TestX -test.v", time.Minute, "-test.timeout=1m0s -test.run TestX -test.v"},
		{"double-dash", "--test.timeout=10m -test.v", time.Minute, "-test.timeout=1m0s -test.v"},
		{"value-of-another-flag", "-test.run -test.timeout=3s", time.Minute, "-test.timeout=1m0s -test.run -test.timeout=3s"},
		{"after-the-flags", "-test.v -- -test.timeout=3s", time.Minute, "-test.timeout=1m0s -test.v -- -test.timeout=3s"},
		{"after-a-non-flag", "-test.v custom -test.timeout=3s", time.Minute, "-test.timeout=1m0s -test.v custom -test.timeout=3s"},
		{"no-timeout", "-test.timeout=0s -test.v", 0, "-test.timeout=0s -test.v"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := childArgs(strings.Fields(c.args), c.timeout)
			if want := strings.Fields(c.want); !slices.Equal(got, want) {
				t.Errorf("got childArgs(%q, %v) = %q, want %q", c.args, c.timeout, got, want)
			}
		})
	}
}
