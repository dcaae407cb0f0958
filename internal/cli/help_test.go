package cli

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/spf13/cobra"
)

// helpTree is a root "tool" with serve, ctl and ctl rule add, as l2hub's
// tree has them; ctl-rule.txt is a command path too (ctl's rule).
func helpTree() *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	ctl := &cobra.Command{Use: "ctl", Short: "Control"}
	rule := &cobra.Command{Use: "rule", Short: "Change a rule"}
	rule.AddCommand(&cobra.Command{Use: "add NAME", Short: "Add a rule"})
	ctl.AddCommand(rule)
	root.AddCommand(&cobra.Command{Use: "serve"}, ctl)
	return root
}

func files(m map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, text := range m {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

func TestLoadHelp(t *testing.T) {
	root := helpTree()
	err := LoadHelp(root, files(map[string]string{
		"tool.txt":         "The tool.\n\nIt does things.\n",
		"serve.txt":        "Serve at {{addr}}.\n--- example\n  tool serve   # at {{addr}}\n  tool\n",
		"ctl.txt":          "--- example\n  tool ctl\n",        // an Example alone
		"ctl-rule.txt":     "Rules, {{env}}: x--- example\n\n", // the separator is a line; Long ends with a newline
		"ctl-rule-add.txt": "{{short}}.\n\n{{parent}}\n",
	}), map[string]string{"addr": "/run/x.sock", "env": "$TOOL_TOKEN"})
	if err != nil {
		t.Fatalf("got LoadHelp error %v, want none", err)
	}
	for _, tt := range []struct{ path, long, example string }{
		{"", "The tool.\n\nIt does things.", ""},
		{"serve", "Serve at /run/x.sock.", "  tool serve   # at /run/x.sock\n  tool"},
		{"ctl", "", "  tool ctl"},
		{"ctl rule", "Rules, $TOOL_TOKEN: x--- example\n", ""},
		{"ctl rule add", "Add a rule.\n\nRules, $TOOL_TOKEN: x--- example\n", ""},
	} {
		c := find(t, root, tt.path)
		if c.Long != tt.long || c.Example != tt.example {
			t.Errorf("got %q Long, Example = %q, %q; want %q, %q", tt.path, c.Long, c.Example, tt.long, tt.example)
		}
	}
}

func TestLoadHelpRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		vars  map[string]string
		want  string
	}{
		{"unknown-placeholder", map[string]string{"serve.txt": "at {{adr}}\n"}, map[string]string{"addr": "x"},
			"help file serve.txt: unknown placeholder {{adr}}\nhelp files: no file uses {{addr}}"},
		{"unknown-in-example", map[string]string{"serve.txt": "x\n--- example\n  {{nope}}\n"}, nil,
			"help file serve.txt: unknown placeholder {{nope}}"},
		{"unclosed", map[string]string{"serve.txt": "at {{addr\n"}, map[string]string{"addr": "x"},
			"help file serve.txt: {{ without }}\nhelp files: no file uses {{addr}}"},
		{"no-command", map[string]string{"srve.txt": "x\n", "ctl-rules.txt": "y\n"}, nil,
			"help file ctl-rules.txt names no command\nhelp file srve.txt names no command"},
		{"not-txt", map[string]string{"serve.md": "x\n"}, nil, "help file serve.md: not a .txt file"},
		{"unused-var", map[string]string{"serve.txt": "x\n"}, map[string]string{"addr": "x"},
			"help files: no file uses {{addr}}"},
		{"builtin-var", nil, map[string]string{"short": "x"}, "help files: {{short}} is LoadHelp's own, not a var"},
		{"no-newline", map[string]string{"serve.txt": "x"}, nil, "help file serve.txt: does not end with a newline"},
		{"separator-mistyped", map[string]string{"serve.txt": "x\n--- examples\n  tool serve\n"}, nil,
			`help file serve.txt:2: "--- examples": want "--- example" exactly, or no line starting with ---`},
		{"separator-twice", map[string]string{"serve.txt": "x\n--- example\n  tool serve\n--- example\n  tool\n"}, nil,
			`help file serve.txt:4: a second "--- example" line`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := LoadHelp(helpTree(), files(tt.files), tt.vars)
			if got := errText(err); got != tt.want {
				t.Errorf("got LoadHelp error %q, want %q", got, tt.want)
			}
		})
	}
}

// A command path given twice: two commands named alike, or a text set in
// Go and in a file.
func TestLoadHelpGivenTwice(t *testing.T) {
	root := helpTree()
	root.AddCommand(&cobra.Command{Use: "ctl-rule"})
	err := LoadHelp(root, files(nil), nil)
	if want := `help file ctl-rule.txt: both "tool ctl rule" and "tool ctl-rule" are named so`; errText(err) != want {
		t.Errorf("got LoadHelp error %q, want %q", errText(err), want)
	}

	root = helpTree()
	find(t, root, "serve").Example = "  tool serve"
	err = LoadHelp(root, files(map[string]string{"serve.txt": "Serve.\n"}), nil)
	if want := `help file serve.txt: "tool serve" has its help set already`; errText(err) != want {
		t.Errorf("got LoadHelp error %q, want %q", errText(err), want)
	}
}

func find(t *testing.T, root *cobra.Command, path string) *cobra.Command {
	t.Helper()
	if path == "" {
		return root
	}
	c, _, err := root.Find(strings.Fields(path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
