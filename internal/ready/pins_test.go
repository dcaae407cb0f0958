package ready

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadSaysTheWrongPidIsTheProblem: a pid of the wrong type is named
// as such, not reported as a file without a pid.
func TestReadSaysTheWrongPidIsTheProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ready")
	if err := os.WriteFile(path, []byte(`{"pid": "1234"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if want := "ready file " + path + ": pid: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got Read = %v, want an error starting %q", err, want)
	}
}

// TestWithinNeedsTwoPids: no pid (0) is within nothing, and nothing is
// within no pid.
func TestWithinNeedsTwoPids(t *testing.T) {
	for _, tt := range [][2]int{{0, 0}, {os.Getpid(), 0}, {0, os.Getpid()}} {
		if Within(tt[0], tt[1]) {
			t.Errorf("got Within(%d, %d) = true, want false", tt[0], tt[1])
		}
	}
}
