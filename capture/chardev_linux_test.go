package capture

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"l2hub/hub"
)

// TestCharacterDeviceIsAStream: a capture to a character device (a null
// device made in a temporary directory, as /dev/null is one; root only)
// is a stream: a SetMeta starts a new section in it, in place, and no
// numbered file appears beside it, as none must beside /dev/null.
func TestCharacterDeviceIsAStream(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod a null device (needs root and CAP_MKNOD): %v", err)
	}
	s := mustOpen(t, Config{Path: dev, Meta: testMeta, Overflow: OverflowBlock})
	s.PortAdded(hub.PortInfo{ID: 0, Name: "a"})
	for i := range 3 {
		m := testMeta
		m.Seed = uint64(i + 1)
		s.Observe(&hub.Event{Time: t0, Port: 0, PortName: "a", Dir: hub.Ingress, Frame: frame(60, 1, 0xff, i)})
		if _, err := s.SetMeta(m); err != nil {
			t.Fatalf("SetMeta: %v", err)
		}
	}
	mustClose(t, s)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"null"}) {
		t.Errorf("got %v beside the device, want it alone", names)
	}
	if files := s.Files(); !slices.Equal(files, []string{dev}) {
		t.Errorf("got Files() = %v, want [%s]", files, dev)
	}
}
