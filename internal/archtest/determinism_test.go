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
// and draw from streams they were given or built from a seed. Their *test
// helper packages are in: hub/hubtest is the synchronous simulator, and
// conformance/conformancetest the suite that runs on it.
var deterministic = []string{"hub", "filter", "capture", "conformance", "replay", "internal/vsim"}

// allowed are the files of the deterministic packages that use the wall
// clock or crypto/rand on purpose, each with the reason. An entry whose
// file no longer does is an error, so the list stays exact.
var allowed = map[string]string{
	"capture/config.go":          "wallclock.Clock{} is the default Clock of a sink's flushes, which decide when bytes reach the disk, never which bytes",
	"conformance/vnode/vnode.go": "wallclock.Clock{} is the default Clock of a node run outside a simulation (Config.Clock nil); a vsim passes its own",
	"replay/inject.go":           "injection paces frames into a live hub at wall-clock speed, by design",
}

// bannedImports are packages a deterministic file may not import at all,
// with the reason.
var bannedImports = map[string]string{
	"math/rand":                "its global stream is unseeded",
	"crypto/rand":              "it cannot be seeded; take an io.Reader or a seeded stream",
	"l2hub/internal/wallclock": "it is the wall clock; take the hub.Clock given",
}

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

// nondeterminism lists the places in one Go file that read the wall clock,
// draw from the global random stream or from crypto/rand, as "file:line:
// what".
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
		at := fset.Position(imp.Pos()).String()
		if why, ok := bannedImports[path]; ok {
			out = append(out, at+": imports "+path+": "+why)
		}
		if name == "." && (path == "time" || path == "math/rand/v2") {
			out = append(out, at+": dot-imports "+path+": its wall-clock and global-stream calls would pass unseen")
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

// TestDeterministicPackagesUseNoWallClock: no non-test file of the
// deterministic packages reads the wall clock, the global random stream or
// crypto/rand, the allowed files aside.
func TestDeterministicPackagesUseNoWallClock(t *testing.T) {
	root, _, err := findModule()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	used := map[string]bool{} // allowed files that do what they are allowed
	for _, top := range deterministic {
		err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(top)), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
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
			rel = filepath.ToSlash(rel)
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			bad := nondeterminism(fset, f)
			if _, ok := allowed[rel]; ok {
				used[rel] = len(bad) > 0
				return nil
			}
			for _, b := range bad {
				t.Error(b)
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
	for rel, why := range allowed {
		if !used[rel] {
			t.Errorf("%s is allowed the wall clock or crypto/rand (%s) but no longer uses either: drop it from allowed", rel, why)
		}
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

// TestNondeterminismIsFoundInImports: the ways around the selector check
// fire too: a dot-imported time or math/rand/v2, crypto/rand however
// named, the module's wall clock, math/rand.
func TestNondeterminismIsFoundInImports(t *testing.T) {
	const src = `package x

import (
	crand "crypto/rand"
	"math/rand"
	. "math/rand/v2"
	. "time"
	"l2hub/internal/wallclock"
	_ "time"
)

func f() {
	_ = Now()
	_ = wallclock.Clock{}.Now()
	crand.Read(nil)
	_ = rand.Int()
	_ = N(10)
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(nondeterminism(fset, f), "\n")
	for _, want := range []string{
		"x.go:4:2: imports crypto/rand",
		"x.go:5:2: imports math/rand",
		"x.go:6:2: dot-imports math/rand/v2",
		"x.go:7:2: dot-imports time",
		"x.go:8:2: imports l2hub/internal/wallclock",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("found\n%s\nwant %q", got, want)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 5 {
		t.Errorf("found %d places, want 5:\n%s", n, got)
	}
}
