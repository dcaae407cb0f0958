package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"l2hub/control"
)

// TestEveryCtlCommandExplainsAWrongToken: each ctl command, given a token
// the hub refuses, fails (exit status 1, nothing printed) and says how to
// give the right one. ctl policy and ctl metrics print the hub's answer
// as it is; they must not print nothing and succeed.
func TestEveryCtlCommandExplainsAWrongToken(t *testing.T) {
	t.Setenv(control.TokenEnv, "tok-1-of-enough-length")
	s := startServe(t, "serve", "--port", "a=tcp:127.0.0.1:0", "--port", "b=tcp:127.0.0.1:0", "--control", "tcp:127.0.0.1:0")
	m := regexp.MustCompile(`control API on (tcp:\S+);`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no TCP control address in the banner:\n%s", s.stdout.String())
	}
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte(ctlPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(control.TokenEnv, "tok-2-wrong")
	for _, args := range [][]string{
		{"ports"}, {"ports", "--json"}, {"policy"}, {"set-policy", policy}, {"rules"}, {"rules", "--json"},
		{"partition", "split"}, {"heal", "split"}, {"link", "a", "down"}, {"metrics"},
		{"rule", "add", "x", "--loss", "1%"}, {"rule", "update", "x", "--loss", "1%"}, {"rule", "remove", "x"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), append([]string{"ctl", "--control", m[1]}, args...), &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "--control-token-file FILE or $"+control.TokenEnv) {
				t.Errorf("got %v, want an error saying how to give the token", err)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q, want nothing", out.String())
			}
		})
	}
}
