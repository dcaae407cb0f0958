package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.json")
	for _, s := range []string{"first\n", "second\n"} {
		if err := WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != s {
			t.Fatalf("read %q, %v; want %q", b, err, s)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("the directory holds %d files, want only the one written", len(ents))
	}
}

// TestErrorsNameThePathGiven: a failure names the file the user asked
// for, not renameio's temporary one beside it, and keeps its cause.
func TestErrorsNameThePathGiven(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope", "x.json")
	for name, err := range map[string]error{
		"WriteFile": WriteFile(missing, []byte("x"), 0o644),
		"Check":     Check(missing),
	} {
		if err == nil || err.Error() != "write "+missing+": no such file or directory" || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s of a path in a missing directory: %v; want write %s: no such file or directory", name, err, missing)
		}
	}
	if err := Check(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Check of a directory: %v, want is a directory", err)
	}
	ok := filepath.Join(dir, "ok.json")
	if err := Check(ok); err != nil {
		t.Fatalf("Check of a writable path: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Check left %d files behind", len(ents))
	}
}
