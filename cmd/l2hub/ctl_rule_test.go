package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/control"
)

// TestCtlRule drives ctl rule add, update and remove against a running
// hub: with quick flags and with a file, before another rule, and the
// refusals, which change nothing.
func TestCtlRule(t *testing.T) {
	sock := serveWithPolicy(t, "seed: 3\nrules:\n  - {name: base, match: {link: b->a}, delay: 1ms}\n")
	file := filepath.Join(t.TempDir(), "rule.yaml")
	if err := os.WriteFile(file, []byte("# the first SYN\nmatch: {link: a->b, protocol: tcp, tcp_flags: \"syn !ack\"}\ndrop: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badFile, []byte("# a typo in the port\nmatch: {link: a->z}\nloss: 1%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := func() string {
		t.Helper()
		d, err := control.NewClient(sock, "").CurrentPolicy(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range d.Rules {
			out = append(out, r.Name+"["+strings.Join(r.Actions, ",")+"]")
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name  string
		args  []string
		want  string // in the output, or the error
		err   bool
		rules string // afterwards
	}{
		{"help", []string{"rule", "add", "--help"}, "--before RULE", false, "base[delay 1ms fifo]"},
		{"add-flags", []string{"rule", "add", "loss-a-b", "--loss", "a->b=5%", "--delay", "a->b=20ms±5ms"},
			"rule loss-a-b added: match link=a->b: loss 5%, delay 20ms±5ms uniform fifo", false,
			"base[delay 1ms fifo] loss-a-b[loss 5%,delay 20ms±5ms uniform fifo]"},
		{"add-file-before", []string{"rule", "add", "syn", "--file", file, "--before", "loss-a-b"},
			`rule syn added: match link=a->b protocol=tcp tcp_flags="syn !ack": drop`, false,
			"base[delay 1ms fifo] syn[drop] loss-a-b[loss 5%,delay 20ms±5ms uniform fifo]"},
		{"update", []string{"rule", "update", "loss-a-b", "--loss", "a->b=20%"}, "rule loss-a-b updated: match link=a->b: loss 20%", false,
			"base[delay 1ms fifo] syn[drop] loss-a-b[loss 20%]"},
		{"remove", []string{"rule", "remove", "syn"}, "rule syn removed (matched 0, dropped 0,", false,
			"base[delay 1ms fifo] loss-a-b[loss 20%]"},
		{"add-every-link-with-option", []string{"rule", "add", "dup", "--dup", "1%,copies=2"}, "rule dup added: match all: duplicate 1% copies 2", false,
			"base[delay 1ms fifo] loss-a-b[loss 20%] dup[duplicate 1% copies 2]"},
		{"remove-every-link", []string{"rule", "remove", "dup"}, "rule dup removed", false,
			"base[delay 1ms fifo] loss-a-b[loss 20%]"},
		{"duplicate", []string{"rule", "add", "base", "--loss", "1%"}, `rule "base": a rule of that name exists`, true, ""},
		{"unknown", []string{"rule", "update", "nope", "--loss", "1%"}, `rule "nope": no such rule (rules: base, loss-a-b)`, true, ""},
		{"unknown-remove", []string{"rule", "remove", "syn"}, `rule "syn": no such rule`, true, ""},
		{"unknown-port", []string{"rule", "add", "x", "--loss", "a->z=1%"}, `rule x, from the flags: match.link: port "z" does not exist (ports: a, b)`, true, ""},
		{"unknown-port-in-file", []string{"rule", "add", "x", "--file", badFile}, badFile + `:2:15: match.link: port "z" does not exist (ports: a, b)`, true, ""},
		// A name shown quoted: the positions are still put where the user wrote.
		{"quoted-name-flags", []string{"rule", "add", "a b", "--loss", "a->b=1%"}, `rule "a b", from the flags: name: rule name "a b" must be`, true, ""},
		{"quoted-name-file", []string{"rule", "add", "é", "--file", badFile}, badFile + `:2:15: match.link: port "z" does not exist (ports: a, b)` + "\n" + badFile + `:2:1: name: rule name "é"`, true, ""},
		{"two-links", []string{"rule", "add", "x", "--loss", "a->b=1%", "--delay", "b->a=1ms"}, "one rule's flags name one link", true, ""},
		{"both-sources", []string{"rule", "add", "x", "--loss", "1%", "--file", file}, "not both", true, ""},
		{"no-rule", []string{"rule", "add", "x"}, "give the rule with --file FILE", true, ""},
		{"not-a-partition", []string{"rule", "add", "x", "--partition", "a|b"}, "unknown flag: --partition", true, ""},
		{"no-name", []string{"rule", "remove"}, "ctl rule remove takes the rule's NAME, got none: e.g. l2hub ctl rule remove loss-a-b", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rules()
			out, err := ctl(t, sock, tc.args...)
			switch {
			case tc.err && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("ctl %q: got %v (output %q), want an error with %q", tc.args, err, out, tc.want)
			case !tc.err && (err != nil || !strings.Contains(out, tc.want)):
				t.Fatalf("ctl %q: got %q, %v; want %q", tc.args, out, err, tc.want)
			}
			want := tc.rules
			if tc.err {
				want = before
			}
			if got := rules(); got != want {
				t.Errorf("rules afterwards: %s, want %s", got, want)
			}
		})
	}
}
