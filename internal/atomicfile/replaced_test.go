package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenRefusesAFIFOReplacedAfterLstat: a FIFO replaced between the
// lstat that chose how to write and the open is not written: the file
// opened must be the one lstat found.
func TestOpenRefusesAFIFOReplacedAfterLstat(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	tg, err := classify(fifo)
	if err != nil || tg.how != toFIFO {
		t.Fatalf("got classify(FIFO) = %v, %v; want toFIFO", tg.how, err)
	}
	// The first FIFO lives on under another name, so the second cannot
	// take its inode.
	if err := os.Link(fifo, filepath.Join(dir, "old")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "new"), fifo); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0) // a reader, so the open does not fail for want of one
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := tg.open(fifo)
	if err == nil {
		f.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "replaced while it was being opened") {
		t.Errorf("got open of a replaced FIFO = %v, want it refused as replaced", err)
	}
}
