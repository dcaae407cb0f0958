package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteFileIntoDevice: a character device is written, never replaced:
// one made in a temporary directory (root only), then /dev/null, once the
// first has shown that a device is written in place. A link to the device
// is a link: it is replaced, and the device stays as it was.
func TestWriteFileIntoDevice(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod a null device (needs root and CAP_MKNOD): %v", err)
	}
	if tg, err := classify(dev); err != nil || tg.how != toDevice {
		t.Fatalf("got classify(device) = %+v, %v; want it written in place", tg, err)
	}
	if err := WriteFile(dev, []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	isNull := func(path string) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || uint64(st.Rdev) != unix.Mkdev(1, 3) {
			t.Fatalf("got %s mode %o rdev %d (%v) after WriteFile, want the null device kept", path, st.Mode, st.Rdev, err)
		}
	}
	isNull(dev)
	link := symlink(t, dev, filepath.Join(t.TempDir(), "out"))
	if err := WriteFile(link, []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(link); err != nil || string(b) != "page\n" {
		t.Errorf("got %q, %v at the link, want it replaced by the page", b, err)
	}
	isNull(dev)
	// /dev/null itself, only now that a device is known to be written in
	// place, and only if this is the real null device.
	var st unix.Stat_t
	if err := unix.Lstat("/dev/null", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || uint64(st.Rdev) != unix.Mkdev(1, 3) {
		t.Skip("/dev/null is not the null device here")
	}
	if !InPlace("/dev/null") {
		t.Fatalf("got InPlace(/dev/null) = false, want it written in place")
	}
	if err := Check("/dev/null"); err != nil {
		t.Fatalf("got Check(/dev/null) = %v, want nil", err)
	}
	if err := WriteFile("/dev/null", []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	isNull("/dev/null")
}
