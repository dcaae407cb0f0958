package archtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pkg is one package of the module, as far as the tests need it.
type pkg struct {
	rel     string          // path relative to the module: "hub", "conformance/checker"
	name    string          // the package clause's name
	imports map[string]bool // l2hub packages its non-test files import, relative to the module
	doc     string          // doc.go's package comment; "" without one
	hasDoc  bool            // doc.go exists
	strays  []string        // other files that carry a package comment
}

// loadModule reads every package of the module that holds the working
// directory, once per test binary.
var loadModule = sync.OnceValues(func() ([]*pkg, error) {
	root, module, err := findModule()
	if err != nil {
		return nil, err
	}
	var pkgs []*pkg
	err = filepath.WalkDir(root, func(dir string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if dir != root {
			// The go command's rules: these are not packages of the module.
			n := d.Name()
			if n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		p, err := loadPackage(root, dir, module)
		if err != nil {
			return err
		}
		if p != nil {
			pkgs = append(pkgs, p)
		}
		return nil
	})
	return pkgs, err
})

// findModule walks up from the working directory to go.mod and returns its
// directory and module path.
func findModule() (root, module string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					m = strings.TrimSpace(m)
					if uq, err := strconv.Unquote(m); err == nil {
						m = uq
					}
					return dir, m, nil
				}
			}
			return "", "", fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// loadPackage reads the package in dir, or returns nil if dir holds no Go
// file.
func loadPackage(root, dir, module string) (*pkg, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return nil, err
	}
	p := &pkg{rel: filepath.ToSlash(rel), imports: map[string]bool{}}
	fset := token.NewFileSet()
	found := false
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		found = true
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return nil, err
		}
		test := strings.HasSuffix(name, "_test.go")
		if name == "doc.go" {
			p.hasDoc = true
			p.name = f.Name.Name
			if f.Doc != nil {
				p.doc = f.Doc.Text()
			}
		} else if f.Doc != nil {
			p.strays = append(p.strays, name)
		}
		if test || !buildsSomewhere(dir, name, src) {
			continue
		}
		if p.name == "" {
			p.name = f.Name.Name
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return nil, err
			}
			if r, ok := strings.CutPrefix(ip, module+"/"); ok {
				p.imports[r] = true
			}
		}
	}
	if !found {
		return nil, nil
	}
	return p, nil
}

// Platforms a file may be built for: every GOOS the go command knows, the
// GOARCHes a file of this module could name, with and without cgo and the
// optional tags.
var (
	gooses   = []string{"linux", "darwin", "freebsd", "openbsd", "netbsd", "dragonfly", "solaris", "illumos", "aix", "android", "ios", "windows", "plan9", "js", "wasip1", "hurd", "zos"}
	goarches = []string{"amd64", "arm64", "riscv64", "386", "arm", "wasm"}
	optTags  = []string{"e2e", "race"}
)

// buildsSomewhere reports whether the file name in dir, whose content is
// src, is part of its package on some platform, with some of optTags.
func buildsSomewhere(dir, name string, src []byte) bool {
	ctx := build.Default
	ctx.OpenFile = func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(src)), nil }
	for _, goos := range gooses {
		for _, goarch := range goarches {
			for _, cgo := range []bool{true, false} {
				for mask := range 1 << len(optTags) {
					ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, goarch, cgo
					ctx.BuildTags = nil
					for i, tag := range optTags {
						if mask&(1<<i) != 0 {
							ctx.BuildTags = append(ctx.BuildTags, tag)
						}
					}
					if ok, err := ctx.MatchFile(dir, name); err == nil && ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// importPath is one entry of an Imports list: a package path relative to
// the module.
var importPath = regexp.MustCompile(`^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$`)

// parseImports reads the Imports line of the package comment doc (see the
// package comment for the grammar) and returns the package paths it names.
func parseImports(doc string) (map[string]bool, error) {
	lines := strings.Split(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Imports:") {
			if start >= 0 {
				return nil, errors.New(`more than one line starts with "Imports:"`)
			}
			start = i
		}
	}
	if start < 0 {
		return nil, errors.New(`no line starts with "Imports:"`)
	}
	// The paragraph from "Imports:" on, as one line.
	var para []string
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		para = append(para, strings.TrimSpace(l))
	}
	text := strings.TrimSpace(strings.TrimPrefix(strings.Join(para, " "), "Imports:"))

	// The list ends at the first ";" or sentence-ending "." outside
	// parentheses; remarks in parentheses are dropped.
	var list strings.Builder
	depth, end := 0, -1
scan:
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return nil, fmt.Errorf("unbalanced ')' in %q", text)
			}
			depth--
		case depth > 0:
		case c == ';' || c == '.' && (i+1 == len(text) || text[i+1] == ' '):
			end = i
			break scan
		default:
			list.WriteByte(c)
		}
	}
	if depth > 0 {
		return nil, fmt.Errorf("unclosed '(' in %q", text)
	}
	if end < 0 {
		return nil, fmt.Errorf(`the list in %q does not end with ";" or "."`, text)
	}
	s := strings.Join(strings.Fields(list.String()), " ")
	names := map[string]bool{}
	if s == "nothing of l2hub" {
		return names, nil
	}
	s = strings.TrimSuffix(s, " only")
	s = strings.ReplaceAll(s, ", and ", ", ")
	s = strings.ReplaceAll(s, " and ", ", ")
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if !importPath.MatchString(item) {
			return nil, fmt.Errorf("%q in %q is not a package path relative to the module (the grammar is in internal/archtest/doc.go)", item, text)
		}
		if names[item] {
			return nil, fmt.Errorf("%q is named twice in %q", item, text)
		}
		names[item] = true
	}
	return names, nil
}

func TestParseImports(t *testing.T) {
	tests := []struct {
		doc     string
		want    []string // the names, sorted, when wantErr is ""
		wantErr string   // a part of the error's text
	}{
		{doc: "Package x is.\n\nImports: nothing of l2hub.\n", want: []string{}},
		{doc: "Imports: hub.", want: []string{"hub"}},
		{doc: "Imports: hub (for its Clock) only.", want: []string{"hub"}},
		{doc: "Imports: hub and tap only; only tests import it.", want: []string{"hub", "tap"}},
		{doc: "Imports: hub, besides netlink.", wantErr: `"besides netlink"`},
		{doc: "Imports: nothing of l2hub but hub.", wantErr: "not a package path"},
		{doc: "Imports: hub (the Clock), internal/shell and\nconformance/checker (the hint); besides\nthem x/crypto.", want: []string{"conformance/checker", "hub", "internal/shell"}},
		{doc: "Imports: serve (runs a serve.Session, in this process), lab, and capture. Nothing imports it but tests.", want: []string{"capture", "lab", "serve"}},
		{doc: "Imports: hub and filter\n\nMore.", wantErr: "does not end"},
		{doc: "Imports: hub (the Clock.", wantErr: "unclosed"},
		{doc: "Imports: hub, hub.", wantErr: "twice"},
		{doc: "Imports: conformance (checker, vnode).", want: []string{"conformance"}},
		{doc: "Package x.", wantErr: "no line"},
		{doc: "Imports: hub.\nImports: filter.", wantErr: "more than one"},
		{doc: "Imports: Hub.", wantErr: "not a package path"},
	}
	for _, tt := range tests {
		got, err := parseImports(tt.doc)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got parseImports(%q) error %v, want one containing %q", tt.doc, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("got parseImports(%q) error %v, want %q", tt.doc, err, tt.want)
			continue
		}
		if g := sorted(got); !slices.Equal(g, tt.want) {
			t.Errorf("got parseImports(%q) = %q, want %q", tt.doc, g, tt.want)
		}
	}
}

// TestDocComments checks that every package has a doc.go that holds its one
// package comment, and that the comment starts by saying what the package
// holds ("Package x ...", or "Command x ..." for a command).
func TestDocComments(t *testing.T) {
	pkgs := mustLoad(t)
	for _, p := range pkgs {
		switch {
		case !p.hasDoc:
			t.Errorf("%s: no doc.go", p.rel)
		case p.doc == "":
			t.Errorf("%s: doc.go has no package comment", p.rel)
		case p.name == "main" && !strings.HasPrefix(p.doc, "Command "),
			p.name != "main" && !strings.HasPrefix(p.doc, "Package "+p.name+" "):
			t.Errorf("%s: doc.go's package comment starts %q, want \"Package %s ...\" (or \"Command ...\" for a command)", p.rel, firstLine(p.doc), p.name)
		}
		for _, f := range p.strays {
			t.Errorf("%s: %s has a package comment; a package has one, in doc.go", p.rel, f)
		}
	}
}

// TestDocImports checks every doc.go's Imports line against the imports of
// the package's non-test files.
func TestDocImports(t *testing.T) {
	pkgs := mustLoad(t)
	for _, p := range pkgs {
		if p.doc == "" {
			continue // TestDocComments says so
		}
		claimed, err := parseImports(p.doc)
		if err != nil {
			t.Errorf("%s/doc.go: Imports line: %v", p.rel, err)
			continue
		}
		var missing, extra []string
		for _, r := range sorted(p.imports) {
			if !claimed[r] {
				missing = append(missing, r)
			}
		}
		for _, c := range sorted(claimed) {
			if !p.imports[c] {
				extra = append(extra, c)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s/doc.go: Imports line lacks %s, which the package imports", p.rel, strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			t.Errorf("%s/doc.go: Imports line names %s, which no non-test file of the package imports", p.rel, strings.Join(extra, ", "))
		}
	}
}

// TestHubImportsNothing enforces the README's dependency rule: hub sees
// ports, policies and captures as its own interfaces, so it imports no
// other l2hub package, and what lives under hub/ (hubtest) imports only
// hub and hub/....
func TestHubImportsNothing(t *testing.T) {
	pkgs := mustLoad(t)
	seen := false
	for _, p := range pkgs {
		if p.rel != "hub" && !strings.HasPrefix(p.rel, "hub/") {
			continue
		}
		seen = seen || p.rel == "hub"
		for _, r := range sorted(p.imports) {
			if p.rel == "hub" || r != "hub" && !strings.HasPrefix(r, "hub/") {
				t.Errorf("%s imports %s: nothing under hub/ may import an l2hub package outside hub/, and hub none (README, Architecture)", p.rel, r)
			}
		}
	}
	if !seen {
		t.Error("no package hub found: is the walk broken?")
	}
}

func mustLoad(t *testing.T) []*pkg {
	t.Helper()
	pkgs, err := loadModule()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("no packages found")
	}
	return pkgs
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestWalkSeesLayout guards the other tests against a walk that finds
// nothing to check.
func TestWalkSeesLayout(t *testing.T) {
	pkgs := mustLoad(t)
	have := map[string]*pkg{}
	for _, p := range pkgs {
		have[p.rel] = p
	}
	for _, want := range []string{"hub", "hub/hubtest", "cmd/l2hub", "e2e", "e2e/qemu", "internal/archtest"} {
		if have[want] == nil {
			t.Errorf("the walk found no package %s", want)
		}
	}
}
