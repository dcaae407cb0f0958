package umask

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestApplyMatchesACreatedFile checks Apply against a file created with
// the same permissions, whatever umask the test runs under.
func TestApplyMatchesACreatedFile(t *testing.T) {
	for _, perm := range []fs.FileMode{0o644, 0o600, 0o755, 0o666} {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, nil, perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Apply(perm)
		if err != nil {
			t.Fatal(err)
		}
		if got != fi.Mode().Perm() {
			t.Errorf("Apply(%04o) = %04o, want %04o (the mode of a file created with it)", perm, got, fi.Mode().Perm())
		}
	}
}
