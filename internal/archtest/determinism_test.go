package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deterministic are the packages (and the packages under them) whose
// decisions and records must follow a virtual clock and seeded streams
// (DESIGN.md, the determinism contract): they read time through hub.Clock
// and draw from streams they were given or built from a seed.
var deterministic = []string{"hub", "filter", "capture", "conformance"}

// wallTime are the time package's functions that read or wait on the
// machine's clock; time's types and arithmetic are fine.
var wallTime = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
}

// seededRand are the names of math/rand/v2 that build a seeded stream;
// its top-level functions draw from the global, unseeded one.
var seededRand = map[string]bool{
	"New": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
	"Rand": true, "PCG": true, "ChaCha8": true, "Source": true, "Zipf": true,
}

// nondeterminism lists the places in one Go file that read the wall clock
// or the global random stream, as "file:line: what".
func nondeterminism(fset *token.FileSet, f *ast.File) []string {
	local := map[string]string{} // name in the file -> import path
	var out []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if path == "math/rand/v2" {
			name = "rand"
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		local[name] = path
		if path == "math/rand" {
			out = append(out, fset.Position(imp.Pos()).String()+": imports math/rand (its global stream is unseeded)")
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch local[id.Name] {
		case "time":
			if wallTime[sel.Sel.Name] {
				out = append(out, fset.Position(sel.Pos()).String()+": time."+sel.Sel.Name+" reads the wall clock (use the hub.Clock given)")
			}
		case "math/rand/v2":
			if !seededRand[sel.Sel.Name] {
				out = append(out, fset.Position(sel.Pos()).String()+": rand."+sel.Sel.Name+" draws from the global stream (use a seeded one)")
			}
		}
		return true
	})
	return out
}

// TestDeterministicPackagesUseNoWallClock: no non-test file of hub,
// filter, capture or conformance (test helper packages, *test, aside)
// reads the wall clock or the global random stream.
func TestDeterministicPackagesUseNoWallClock(t *testing.T) {
	root, _, err := findModule()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, top := range deterministic {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); n == "testdata" || strings.HasSuffix(n, "test") && path != filepath.Join(root, top) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.ToSlash(rel), src, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			for _, bad := range nondeterminism(fset, f) {
				t.Error(bad)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Errorf("read %d files of %v: is the walk broken?", files, deterministic)
	}
}

// TestNondeterminismIsFound: the check above can fire.
func TestNondeterminismIsFound(t *testing.T) {
	const src = `package x

import (
	"math/rand/v2"
	t "time"
)

func f() {
	_ = t.Now()
	_ = t.Duration(5) * t.Second
	_ = rand.IntN(3)
	_ = rand.New(rand.NewPCG(1, 2))
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := nondeterminism(fset, f)
	if len(got) != 2 || !strings.Contains(got[0], "x.go:9:") || !strings.Contains(got[0], "time.Now") || !strings.Contains(got[1], "rand.IntN") {
		t.Errorf("found %q, want time.Now at line 9 and rand.IntN", got)
	}
}
