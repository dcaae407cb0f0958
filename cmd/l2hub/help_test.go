package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// The help files load (a file that names no command, an unknown
// {{placeholder}}, a var no file uses fail it), every file in help/ is
// built in, and the texts derived from others are.
func TestHelpFiles(t *testing.T) {
	root := newCommands(io.Discard, io.Discard)
	if err := loadHelp(root); err != nil {
		t.Fatalf("got loadHelp error:\n%v\nwant none", err)
	}

	entries, err := os.ReadDir("help")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".txt") && e.Name() != "README.md" {
			t.Errorf("got help/%s, want only .txt files (and README.md): it is not built in", e.Name())
		}
	}

	rule, _, err := root.Find([]string{"ctl", "rule"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rule.Commands() {
		if want := c.Short + ".\n\n" + rule.Long; c.Long != want {
			first, _, _ := strings.Cut(c.Long, "\n")
			t.Errorf("got ctl rule %s's Long starting %q, want its Short, a full stop, a blank line and ctl rule's Long", c.Name(), first)
		}
	}
	wait, _, err := root.Find([]string{"wait"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "(--control, default " + helpVars()["control.DefaultAddr"] + ")"; !strings.Contains(wait.Long, want) {
		t.Errorf("got wait's Long = %q, want it to hold %q", wait.Long, want)
	}
}
