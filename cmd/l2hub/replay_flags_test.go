package main

import (
	"strings"
	"testing"
)

// TestReplayChecksFlagsUpFront: a bad --points, --progress, --aging or a
// --port value meant as a MAC that does not parse is refused whether or not -o is
// given, saying what is allowed, rather than being ignored or taken for a
// file name.
func TestReplayChecksFlagsUpFront(t *testing.T) {
	in := writeL2hubCapture(t, t.TempDir(), 10)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--points", "sideways"}, `--points: capture points "sideways": want both, ingress or egress`},
		{[]string{"--progress", "sometimes"}, `--progress "sometimes": want auto, always, never`},
		{[]string{"--port", "b=52:54:00:12:34:0x"}, `--port b=52:54:00:12:34:0x: "52:54:00:12:34:0x" is not a MAC address`},
		{[]string{"--port", "b=52-54-00-12-34"}, ""}, // five groups: a file name, which does not exist
		{[]string{"--aging", "-5s"}, "--aging: must not be negative"},
	} {
		_, _, err := runCmd(t, append([]string{"replay", in}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay %q: %v, want an error saying %q", tc.args, err, tc.want)
		}
		if tc.want == "" && strings.Contains(err.Error(), "MAC") {
			t.Errorf("replay %q: %v, taken for a MAC", tc.args, err)
		}
	}
	for _, p := range []string{"ingress", "egress", "both"} {
		if _, _, err := runCmd(t, "replay", in, "--points", p, "--progress", "never"); err != nil {
			t.Errorf("--points %s: %v", p, err)
		}
	}
}

// TestReplayFlagsWithoutLink: an impairment flag without LINK but with
// options applies to every link (POLICY.md's [LINK=]P[,opt=N]); the
// option's "=" is not taken for the end of a LINK.
func TestReplayFlagsWithoutLink(t *testing.T) {
	in := writeL2hubCapture(t, t.TempDir(), 10)
	for _, args := range [][]string{
		{"--dup", "1%,copies=2"},
		{"--reorder", "25%,gap=5", "--delay", "10ms"},
		{"--rate", "10Mbit,burst=3000B"},
		{"--corrupt", "1%,bits=3"},
	} {
		stdout, stderr, err := runCmd(t, append([]string{"replay", in, "--progress", "never"}, args...)...)
		if err != nil {
			t.Errorf("replay %q: %v\n%s", args, err, stderr)
			continue
		}
		if !strings.Contains(stdout, "rule *") {
			t.Errorf("replay %q: the summary lacks the every-link rule \"*\":\n%s", args, stdout)
		}
	}
}
