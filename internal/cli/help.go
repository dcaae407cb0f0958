package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// ExampleSeparator is the line of a help file after which its command's
// Example starts (see LoadHelp).
const ExampleSeparator = "--- example"

// LoadHelp fills the Long and Example of the commands under root (root
// included) from the help files in the top folder of fsys, one per
// command that has either, named after its command path without the
// root's name, the words joined by '-': "ctl rule" reads ctl-rule.txt,
// and the root reads <root's name>.txt.
//
// A help file is the command's Long and a newline; when the command has
// an Example, a line "--- example" (ExampleSeparator) and the Example and
// a newline follow. The text is the command's as it is, indentation and
// all: cobra prints it as given. "{{NAME}}" in either part is a
// placeholder: NAME is a key of vars (a value the program computes, such
// as a default address), or one LoadHelp fills itself: {{short}} is the
// command's Short, {{parent}} its parent's Long as loaded. "{{" starts a
// placeholder wherever it appears.
//
// LoadHelp refuses, naming the file: a line that starts with "---" and is
// not the separator, a second separator, a placeholder it cannot fill, a var
// no file uses, a file that names no command or is not a .txt file, a
// command path two commands share, and a command whose Long or Example is
// already set (the text is then given twice). Call it once the tree is
// built, before Strict, which adds cobra's own help and completion
// commands.
func LoadHelp(root *cobra.Command, fsys fs.FS, vars map[string]string) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("help files: %w", err)
	}
	files := map[string]bool{}
	var errs []error
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".txt"); ok && !e.IsDir() {
			files[name] = true
		} else {
			errs = append(errs, fmt.Errorf("help file %s: not a .txt file", e.Name()))
		}
	}
	used := map[string]bool{}
	seen := map[string]*cobra.Command{}
	// Parents first: {{parent}} is the parent's Long as loaded.
	var load func(c *cobra.Command)
	load = func(c *cobra.Command) {
		name := helpName(root, c)
		if other, ok := seen[name]; ok {
			errs = append(errs, fmt.Errorf("help file %s.txt: both %q and %q are named so", name, other.CommandPath(), c.CommandPath()))
		}
		seen[name] = c
		if files[name] {
			delete(files, name)
			if err := loadFile(c, fsys, name+".txt", vars, used); err != nil {
				errs = append(errs, err)
			}
		}
		for _, sub := range c.Commands() {
			load(sub)
		}
	}
	load(root)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		errs = append(errs, fmt.Errorf("help file %s.txt names no command", name))
	}
	for _, key := range slices.Sorted(maps.Keys(vars)) {
		switch {
		case key == "short", key == "parent":
			errs = append(errs, fmt.Errorf("help files: {{%s}} is LoadHelp's own, not a var", key))
		case !used[key]:
			errs = append(errs, fmt.Errorf("help files: no file uses {{%s}}", key))
		}
	}
	return errors.Join(errs...)
}

// helpName is the name of c's help file without .txt.
func helpName(root, c *cobra.Command) string {
	if c == root {
		return root.Name()
	}
	p := strings.TrimPrefix(c.CommandPath(), root.CommandPath()+" ")
	return strings.ReplaceAll(p, " ", "-")
}

// loadFile sets c's Long and Example from the help file file.
func loadFile(c *cobra.Command, fsys fs.FS, file string, vars map[string]string, used map[string]bool) error {
	if c.Long != "" || c.Example != "" {
		return fmt.Errorf("help file %s: %q has its help set already", file, c.CommandPath())
	}
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return fmt.Errorf("help file %s: %w", file, err)
	}
	text, ok := strings.CutSuffix(string(data), "\n")
	if !ok {
		return fmt.Errorf("help file %s: does not end with a newline", file)
	}
	// A line that starts as the separator does and is not it (--- examples,
	// ---example) would put the examples in the long help: refused, as is
	// a second separator.
	seps := 0
	for i, line := range strings.Split(text, "\n") {
		switch {
		case line == ExampleSeparator:
			if seps++; seps > 1 {
				return fmt.Errorf("help file %s:%d: a second %q line", file, i+1, ExampleSeparator)
			}
		case strings.HasPrefix(line, "---"):
			return fmt.Errorf("help file %s:%d: %q: want %q exactly, or no line starting with ---", file, i+1, line, ExampleSeparator)
		}
	}
	// The separator is a line of its own: the first line may be one too.
	long, example, _ := strings.Cut("\n"+text, "\n"+ExampleSeparator+"\n")
	long = strings.TrimPrefix(long, "\n")
	parent := ""
	if c.HasParent() {
		parent = c.Parent().Long
	}
	fill := func(s string) (string, error) {
		return expand(s, func(name string) (string, bool) {
			switch name {
			case "short":
				return c.Short, true
			case "parent":
				return parent, true
			}
			v, ok := vars[name]
			if ok {
				used[name] = true
			}
			return v, ok
		})
	}
	if c.Long, err = fill(long); err != nil {
		return fmt.Errorf("help file %s: %w", file, err)
	}
	if c.Example, err = fill(example); err != nil {
		return fmt.Errorf("help file %s: %w", file, err)
	}
	return nil
}

// expand replaces each {{NAME}} in s by lookup(NAME).
func expand(s string, lookup func(name string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		before, after, ok := strings.Cut(s, "{{")
		b.WriteString(before)
		if !ok {
			return b.String(), nil
		}
		name, rest, ok := strings.Cut(after, "}}")
		if !ok {
			return "", fmt.Errorf("{{ without }}")
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("unknown placeholder {{%s}}", name)
		}
		b.WriteString(v)
		s = rest
	}
}
