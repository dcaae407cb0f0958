package unixpath_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"l2hub/internal/unixpath"
)

// TestMaxLen: a socket binds at a path of MaxLen bytes, and one byte more
// is refused (EINVAL), so the limit the packages check is the system's.
func TestMaxLen(t *testing.T) {
	dir, err := os.MkdirTemp("", "up")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pad := unixpath.MaxLen - len(dir) - 1
	if pad < 1 {
		t.Skipf("skipping: the temporary directory %s leaves no room for a name", dir)
	}
	path := filepath.Join(dir, strings.Repeat("s", pad))
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listening at a path of %d bytes (MaxLen): %v", len(path), err)
	}
	l.Close()
	if _, err := net.Listen("unix", path+"s"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("listening at a path of %d bytes (MaxLen+1) = %v, want EINVAL", len(path)+1, err)
	}
}
