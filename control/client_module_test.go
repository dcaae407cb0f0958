package control_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goModBlock is the go.mod the README shows for importing the client from
// another module.
var goModBlock = regexp.MustCompile("(?s)\\*\\*From another module\\.\\*\\*.*?```go.mod\n(.*?)```")

// TestClientImportsFromAnotherModule follows the README's recipe: a module
// of another path, with its go.mod as the README shows it (the replace
// pointing at this checkout), imports l2hub/control and builds. The
// module path has no dot, so without the replace the go command could
// not find it.
func TestClientImportsFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs the go command on a new module; not in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: no go command in PATH")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := goModBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README shows no go.mod for importing the client from another module")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goMod := strings.Replace(string(m[1]), "=> ../l2hub", "=> "+root, 1)
	if goMod == string(m[1]) {
		t.Fatalf("the README's go.mod has no replace l2hub => ../l2hub:\n%s", m[1])
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod": goMod,
		"hub_test.go": `package labtests

import (
	"testing"

	"l2hub/control"
)

func TestClient(t *testing.T) { _ = control.NewClient("tcp:127.0.0.1:7291", "token") }
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline, from the module cache this checkout's build filled; go get
	// stands for the README's go mod tidy, which would also want the test
	// dependencies of every dependency.
	env := append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	for _, args := range [][]string{{"get", "l2hub/control"}, {"vet", "./..."}} {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in a module with the README's go.mod: %v\n%s\ngo.mod:\n%s", strings.Join(args, " "), err, out, goMod)
		}
	}
}
