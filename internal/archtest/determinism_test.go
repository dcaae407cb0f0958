package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// deterministic are the packages (and the packages under them) whose
// decisions and records must follow a virtual clock and seeded streams
// (the README's determinism contract): they read time through hub.Clock
// and draw from streams they were given or built from a seed. Their *test
// helper packages are in: hub/hubtest is the synchronous simulator, and
// conformance/conformancetest the suite that runs on it. transport/netstack
// is the stack a vsim host runs on, in virtual time when given the Sim's
// clock and a seeded Config.Rand.
var deterministic = []string{"hub", "filter", "capture", "conformance", "replay", "internal/vsim", "transport/netstack"}

// allowed are the findings the deterministic packages make on purpose: by
// file, the finding's kind (a finding's text after its position, up to
// the first ": " or " ", as "imports l2hub/internal/wallclock" or
// "time.Now") and the reason. Only findings of an allowed kind in that
// file pass; any other finding in the file is reported. An entry that
// matches no finding is an error, so the list stays exact.
var allowed = map[string]map[string]string{
	"capture/config.go": {
		"imports l2hub/internal/wallclock": "wallclock.Clock{} is the default Clock of a sink's flushes, which decide when bytes reach the disk, never which bytes",
	},
	"conformance/vnode/vnode.go": {
		"imports l2hub/internal/wallclock": "wallclock.Clock{} is the default Clock of a node run outside a simulation (Config.Clock nil); a vsim passes its own",
	},
	"replay/inject.go": {
		"imports l2hub/internal/wallclock": "injection paces frames into a live hub at wall-clock speed, by design",
	},
}

// bannedImports are packages a deterministic file may not import at all,
// with the reason.
var bannedImports = map[string]string{
	"math/rand":                "its global stream is unseeded",
	"crypto/rand":              "it cannot be seeded; take an io.Reader or a seeded stream",
	"hash/maphash":             "its seeds are random per process",
	"l2hub/internal/wallclock": "it is the wall clock; take the hub.Clock given",
}

// wallTime are the time package's functions that read or wait on the
// machine's clock; time's types and arithmetic are fine.
var wallTime = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
}

// wallContext are the context package's functions whose deadline is on the
// machine's clock.
var wallContext = map[string]bool{
	"WithTimeout": true, "WithDeadline": true, "WithTimeoutCause": true, "WithDeadlineCause": true,
}

// seededRand are the names of math/rand/v2 that build a seeded stream;
// its top-level functions draw from the global, unseeded one.
var seededRand = map[string]bool{
	"New": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
	"Rand": true, "PCG": true, "ChaCha8": true, "Source": true, "Zipf": true,
}

// finding is one place in a file that reads the wall clock or an unseeded
// stream.
type finding struct {
	at   string // file:line:col
	kind string // what is there: "imports crypto/rand", "time.Now"
	why  string // why it is nondeterministic, and what to use
}

func (f finding) String() string { return f.at + ": " + f.kind + f.why }

// nondeterminism lists the places in one Go file that read the wall clock,
// draw from the global random stream, crypto/rand or a randomly seeded
// hash, in the order they appear.
func nondeterminism(fset *token.FileSet, f *ast.File) []finding {
	local := map[string]string{} // name in the file -> import path
	var out []finding
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
			out = append(out, finding{at, "imports " + path, ": " + why})
		}
		if name == "." && (path == "time" || path == "math/rand/v2" || path == "context") {
			out = append(out, finding{at, "dot-imports " + path, ": its wall-clock and global-stream calls would pass unseen"})
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
		at := fset.Position(sel.Pos()).String()
		switch local[id.Name] {
		case "time":
			if wallTime[sel.Sel.Name] {
				out = append(out, finding{at, "time." + sel.Sel.Name, " reads the wall clock (use the hub.Clock given)"})
			}
		case "context":
			if wallContext[sel.Sel.Name] {
				out = append(out, finding{at, "context." + sel.Sel.Name, " sets a wall-clock deadline (end the context from the hub.Clock given)"})
			}
		case "math/rand/v2":
			if !seededRand[sel.Sel.Name] {
				out = append(out, finding{at, "rand." + sel.Sel.Name, " draws from the global stream (use a seeded one)"})
			}
		}
		return true
	})
	return out
}

// unallowed returns the findings of the file rel that allowed does not
// allow, and marks in used the (file, kind) entries that allowed one.
func unallowed(rel string, found []finding, used map[[2]string]bool) []finding {
	var out []finding
	for _, f := range found {
		if _, ok := allowed[rel][f.kind]; ok {
			used[[2]string{rel, f.kind}] = true
			continue
		}
		out = append(out, f)
	}
	return out
}

// stale returns the allowed entries, as "file: kind (reason)", that used
// does not hold, sorted.
func stale(used map[[2]string]bool) []string {
	var out []string
	for rel, kinds := range allowed {
		for kind, why := range kinds {
			if !used[[2]string{rel, kind}] {
				out = append(out, rel+": "+kind+" ("+why+")")
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestDeterministicPackagesUseNoWallClock: no non-test file of the
// deterministic packages reads the wall clock, the global random stream,
// crypto/rand or a randomly seeded hash, the allowed findings aside.
func TestDeterministicPackagesUseNoWallClock(t *testing.T) {
	root, _, err := findModule()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	used := map[[2]string]bool{} // allowed entries that a finding matched
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
			for _, b := range unallowed(rel, nondeterminism(fset, f), used) {
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
	for _, s := range stale(used) {
		t.Errorf("allowed %s, but no such finding is left: drop it from allowed", s)
	}
}

// found parses src as the file name and returns its findings, one string
// each.
func found(t *testing.T, name, src string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range nondeterminism(fset, f) {
		out = append(out, b.String())
	}
	return out
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
	got := found(t, "x.go", src)
	if len(got) != 2 || !strings.Contains(got[0], "x.go:9:") || !strings.Contains(got[0], "time.Now") || !strings.Contains(got[1], "rand.IntN") {
		t.Errorf("found %q, want time.Now at line 9 and rand.IntN", got)
	}
}

// TestNondeterminismIsFoundInImports: the ways around the selector check
// fire too: a dot-imported time, context or math/rand/v2, crypto/rand
// however named, the module's wall clock, math/rand, hash/maphash.
func TestNondeterminismIsFoundInImports(t *testing.T) {
	const src = `package x

import (
	crand "crypto/rand"
	"math/rand"
	. "math/rand/v2"
	. "time"
	"l2hub/internal/wallclock"
	_ "time"
	"hash/maphash"
	. "context"
)

func f() {
	_ = Now()
	_ = wallclock.Clock{}.Now()
	crand.Read(nil)
	_ = rand.Int()
	_ = N(10)
	_ = maphash.String(maphash.MakeSeed(), "x")
	_, _ = WithTimeout(Background(), Second)
}
`
	got := strings.Join(found(t, "x.go", src), "\n")
	for _, want := range []string{
		"x.go:4:2: imports crypto/rand",
		"x.go:5:2: imports math/rand",
		"x.go:6:2: dot-imports math/rand/v2",
		"x.go:7:2: dot-imports time",
		"x.go:8:2: imports l2hub/internal/wallclock",
		"x.go:10:2: imports hash/maphash",
		"x.go:11:2: dot-imports context",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("found\n%s\nwant %q", got, want)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 7 {
		t.Errorf("found %d places, want 7:\n%s", n, got)
	}
}

// TestNondeterminismIsFoundInContext: a context whose deadline is on the
// wall clock, however the context package is named.
func TestNondeterminismIsFoundInContext(t *testing.T) {
	const src = `package x

import (
	"context"
	cx "context"
	"time"
)

func f(ctx context.Context) {
	_, _ = context.WithTimeout(ctx, time.Second)
	_, _ = cx.WithDeadline(ctx, time.Time{})
	_, _ = context.WithTimeoutCause(ctx, time.Second, nil)
	_, _ = context.WithDeadlineCause(ctx, time.Time{}, nil)
	_, _ = context.WithCancel(ctx)
	_ = context.AfterFunc(ctx, func() {})
}
`
	got := found(t, "x.go", src)
	want := []string{"x.go:10:9: context.WithTimeout", "x.go:11:9: context.WithDeadline", "x.go:12:9: context.WithTimeoutCause", "x.go:13:9: context.WithDeadlineCause"}
	if len(got) != len(want) {
		t.Fatalf("found %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+" ") {
			t.Errorf("got finding %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}

// TestAllowedIsPerFinding: an allowed file is allowed only the findings
// its entry names; any other finding in it is reported, and an entry
// counts as used only when a finding of its own kind is there.
func TestAllowedIsPerFinding(t *testing.T) {
	const rel = "capture/config.go"
	if _, ok := allowed[rel]["imports l2hub/internal/wallclock"]; !ok || len(allowed[rel]) != 1 {
		t.Fatalf("allowed[%q] = %v: this test assumes it allows the wallclock import only", rel, allowed[rel])
	}
	const src = `package capture

import (
	crand "crypto/rand"
	"math/rand/v2"
	"time"

	"l2hub/internal/wallclock"
)

func f() {
	_ = wallclock.Clock{}
	_ = time.Now()
	_ = rand.IntN(10)
	crand.Read(nil)
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	used := map[[2]string]bool{}
	var got []string
	for _, b := range unallowed(rel, nondeterminism(fset, f), used) {
		got = append(got, b.kind)
	}
	if want := []string{"imports crypto/rand", "time.Now", "rand.IntN"}; !slices.Equal(got, want) {
		t.Errorf("got reported %q, want %q", got, want)
	}
	if !used[[2]string{rel, "imports l2hub/internal/wallclock"}] || len(used) != 1 {
		t.Errorf("got used %v, want only %s's wallclock import", used, rel)
	}
	for _, s := range stale(used) {
		if strings.HasPrefix(s, rel+":") {
			t.Errorf("got stale %q, want it used", s)
		}
	}

	// The same file without the wallclock import: its other findings do
	// not keep the entry alive.
	f, err = parser.ParseFile(fset, rel, strings.Replace(src, `"l2hub/internal/wallclock"`, "", 1), parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	used = map[[2]string]bool{}
	if n := len(unallowed(rel, nondeterminism(fset, f), used)); n != 3 {
		t.Errorf("got %d findings reported, want 3", n)
	}
	if want := rel + ": imports l2hub/internal/wallclock ("; !slices.ContainsFunc(stale(used), func(s string) bool { return strings.HasPrefix(s, want) }) {
		t.Errorf("got stale %q, want it to hold %q", stale(used), want)
	}
}
