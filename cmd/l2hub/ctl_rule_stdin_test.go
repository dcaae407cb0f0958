package main

import (
	"strings"
	"testing"
)

// TestCtlRuleFromStdin: ctl rule add --file - reads the rule from
// standard input, as ctl set-policy - reads the policy.
func TestCtlRuleFromStdin(t *testing.T) {
	sock := serveWithPolicy(t, "seed: 3\n")
	stdinFrom(t, "match: {link: a->b}\nloss: 5%\n")
	out, err := ctl(t, sock, "rule", "add", "from-stdin", "--file", "-")
	if want := "rule from-stdin added: match link=a->b: loss 5%"; err != nil || !strings.Contains(out, want) {
		t.Errorf("ctl rule add --file - = %q, %v; want %q", out, err, want)
	}
}
