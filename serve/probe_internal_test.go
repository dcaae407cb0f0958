package serve

import (
	"errors"
	"testing"
)

// The probes' verdicts decide serve's error: a failure wins, and a probe
// that gave no verdict (absent, none) is no pass.
func TestProbeErr(t *testing.T) {
	tests := []struct {
		verdicts []string
		want     error
	}{
		{nil, nil},
		{[]string{"ok"}, nil},
		{[]string{"fail"}, ErrProbeFailed},
		{[]string{"absent"}, ErrProbeNoVerdict},
		{[]string{"none"}, ErrProbeNoVerdict},
		{[]string{"none", "fail"}, ErrProbeFailed},
		{[]string{"fail", "absent"}, ErrProbeFailed},
		{[]string{"ok", "none"}, ErrProbeNoVerdict},
	}
	for _, tt := range tests {
		sum := Summary{}
		for _, v := range tt.verdicts {
			sum.Probes = append(sum.Probes, ProbeSummary{Peer: "node-b", Probe: "malformed-announce", Verdict: v})
		}
		if got := sum.probeErr(); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("got probeErr(%q) = %v, want %v", tt.verdicts, got, tt.want)
		}
	}
}
