package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// helpParts is what help each command has once its file is loaded: "long
// and example", "long", or "" for a command whose Short says all. A help
// file deleted, or its example separator mistyped (the examples then part
// of the long help), fails TestHelpFiles; so does a command added without
// a line here.
var helpParts = map[string]string{
	"l2hub": "long", "l2hub bench": "long and example",
	"l2hub capture": "", "l2hub capture repair": "long and example",
	"l2hub check": "long and example",
	"l2hub ctl":   "long", "l2hub ctl heal": "", "l2hub ctl link": "", "l2hub ctl metrics": "",
	"l2hub ctl partition": "long and example", "l2hub ctl policy": "", "l2hub ctl ports": "long",
	"l2hub ctl rule": "long and example", "l2hub ctl rule add": "long", "l2hub ctl rule remove": "long",
	"l2hub ctl rule update": "long", "l2hub ctl rules": "", "l2hub ctl set-policy": "",
	"l2hub inject": "long and example", "l2hub lab": "long and example",
	"l2hub qemu-args": "long and example", "l2hub replay": "long and example",
	"l2hub report": "long and example", "l2hub serve": "long and example",
	"l2hub version": "", "l2hub wait": "long and example", "l2hub wireshark-plugin": "long and example",
}

// The help files load (a file that names no command, an unknown
// {{placeholder}}, a var no file uses fail it), every file in help/ is
// built in, and the texts derived from others are.
func TestHelpFiles(t *testing.T) {
	root := newCommands(io.Discard, io.Discard)
	if err := loadHelp(root); err != nil {
		t.Fatalf("got loadHelp error:\n%v\nwant none", err)
	}

	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		seen[path] = true
		got := ""
		switch {
		case c.Long != "" && c.Example != "":
			got = "long and example"
		case c.Long != "":
			got = "long"
		case c.Example != "":
			got = "example"
		}
		if want, ok := helpParts[path]; !ok {
			t.Errorf("%s: not in helpParts (it has %q): add it", path, got)
		} else if got != want {
			t.Errorf("%s: got help with %q, want %q (its help file gone, or its %q line mistyped?)", path, got, want, "--- example")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range helpParts {
		if !seen[path] {
			t.Errorf("helpParts names %s, which is no command", path)
		}
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
