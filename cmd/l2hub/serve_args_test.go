package main

import (
	"strings"
	"testing"
)

// TestServeLogFormatOnlyWhenServing: l2hub alone serves only when given
// nothing. Given a word or a flag, the root refuses them as its own: the
// error is plain text, even when serve's --log-format json is among them,
// for serve never ran.
func TestServeLogFormatOnlyWhenServing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"serve-flag-at-the-root", []string{"--log-format", "json"}, "unknown flag: --log-format"},
		{"unknown-command", []string{"nosuch", "--log-format", "json"}, `unknown command "nosuch" for "l2hub"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, tc.args...)
			if code := p.exit(); code != 1 {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", code, p.stderr.String())
			}
			got := p.stderr.String()
			if !strings.HasPrefix(got, "l2hub: ") || !strings.Contains(got, tc.want) || strings.Contains(got, `"level"`) {
				t.Errorf("stderr %q, want the plain text error \"l2hub: ...%s...\"", got, tc.want)
			}
		})
	}
}
