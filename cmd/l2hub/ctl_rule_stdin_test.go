package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCtlRuleFromStdin: ctl rule add --file - reads the rule from
// standard input, as ctl set-policy - reads the policy.
func TestCtlRuleFromStdin(t *testing.T) {
	sock := serveWithPolicy(t, "seed: 3\n")
	in := filepath.Join(t.TempDir(), "rule.yaml")
	if err := os.WriteFile(in, []byte("match: {link: a->b}\nloss: 5%\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	out, err := ctl(t, sock, "rule", "add", "from-stdin", "--file", "-")
	if want := "rule from-stdin added: match link=a->b: loss 5%"; err != nil || !strings.Contains(out, want) {
		t.Errorf("ctl rule add --file - = %q, %v; want %q", out, err, want)
	}
}
