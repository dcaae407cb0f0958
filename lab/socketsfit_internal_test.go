package lab

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/internal/unixpath"
)

// TestSocketsFit: the run keeps its sockets in the run directory as long
// as the longest, <vm>.sock or ctl.sock, fits a socket's address
// (unixpath.MaxLen bytes, which it binds at), and not one byte further.
func TestSocketsFit(t *testing.T) {
	dir, err := os.MkdirTemp("", "l2lab-fit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	longest := unixpath.MaxLen - len(dir) - len("/.sock")
	if longest < len("ctl") {
		t.Skipf("skipping: the temporary directory %s leaves no room for a name", dir)
	}
	if !socketsFit(dir, longest) {
		t.Errorf("got socketsFit(%s, %d) = false, want true: its sockets are %d bytes", dir, longest, unixpath.MaxLen)
	}
	if socketsFit(dir, longest+1) {
		t.Errorf("got socketsFit(%s, %d) = true, want false: its sockets would be %d bytes", dir, longest+1, unixpath.MaxLen+1)
	}
	// The longest that fits binds.
	l, err := net.Listen("unix", filepath.Join(dir, strings.Repeat("v", longest)+".sock"))
	if err != nil {
		t.Fatalf("binding the longest socket that fits: %v", err)
	}
	l.Close()
}
