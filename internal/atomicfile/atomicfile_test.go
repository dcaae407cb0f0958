package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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

// TestWriteFileFollowsLinks: a link stays a link and the file it leads
// to, in another directory, gets the data, replaced whole there; a
// dangling link's file is made. Nothing is left beside the link.
func TestWriteFileFollowsLinks(t *testing.T) {
	tests := []struct {
		name  string
		links []string // each links to the next, the last to the file
	}{
		{"absolute", []string{"out.html"}},
		{"relative-chain", []string{"page.html", "mid.html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files, links := filepath.Join(root, "files"), filepath.Join(root, "links")
			for _, d := range []string{files, links} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(files, "target.html")
			if err := os.WriteFile(file, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			next := file
			if tt.name == "relative-chain" {
				next = filepath.Join("..", "files", "target.html")
			}
			var first string
			for i := len(tt.links) - 1; i >= 0; i-- {
				l := filepath.Join(links, tt.links[i])
				if err := os.Symlink(next, l); err != nil {
					t.Fatal(err)
				}
				next, first = tt.links[i], l
			}
			if InPlace(first) {
				t.Errorf("got InPlace(link to a file) = true, want false")
			}
			if err := WriteFile(first, []byte("new\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(first); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("got %s %v, %v after WriteFile, want the link kept", first, fi.Mode(), err)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != "new\n" {
				t.Fatalf("got the link's file %q, %v; want %q", b, err, "new\n")
			}
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Errorf("got the file's mode %v, want its own 0600 kept", fi.Mode().Perm())
			}
			for dir, want := range map[string]int{files: 1, links: len(tt.links)} {
				if ents, _ := os.ReadDir(dir); len(ents) != want {
					t.Errorf("got %d entries in %s, want %d", len(ents), dir, want)
				}
			}
		})
	}
	t.Run("dangling", func(t *testing.T) {
		dir := t.TempDir()
		link, file := filepath.Join(dir, "link"), filepath.Join(dir, "made.json")
		if err := os.Symlink("made.json", link); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(link, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("got %v, %v, want the link kept", fi, err)
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
			t.Fatalf("got %q, %v in the link's file, want x", b, err)
		}
	})
	t.Run("loop", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if err := errors.Join(os.Symlink("b", a), os.Symlink("a", b)); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{"WriteFile": WriteFile(a, []byte("x"), 0o644), "Check": Check(a)} {
			if !errors.Is(err, syscall.ELOOP) {
				t.Errorf("got %s of a link loop = %v, want %v", name, err, syscall.ELOOP)
			}
		}
	})
}

// TestWriteFileIntoFIFO: a FIFO is written, not replaced by a file.
func TestWriteFileIntoFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader that is also a writer: opening it waits for no one, and
	// the data waits in the pipe, read without blocking.
	rd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rd)
	if err := Check(fifo); err != nil {
		t.Fatalf("got Check(FIFO) = %v, want nil", err)
	}
	if !InPlace(fifo) {
		t.Errorf("got InPlace(FIFO) = false, want true")
	}
	if err := WriteFile(fifo, []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("got %v, %v after WriteFile, want the FIFO kept", fi, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(rd, buf)
	if err != nil || string(buf[:n]) != "page\n" {
		t.Fatalf("read the FIFO: got %q, %v; want %q", buf[:max(n, 0)], err, "page\n")
	}
	if ents, _ := os.ReadDir(filepath.Dir(fifo)); len(ents) != 1 {
		t.Errorf("got %d files beside the FIFO, want none", len(ents)-1)
	}
}

// TestWriteFileThroughProc: a link to /proc/self/fd/N, as /dev/stdout
// is, is written in place: to a pipe (what the link's text does not
// name) and to a regular file alike, and the link stays.
func TestWriteFileThroughProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	dir := t.TempDir()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(dir, "redirected.html"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, fd := range map[string]uintptr{"pipe": pw.Fd(), "file": file.Fd()} {
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, name+"-stdout")
			if err := os.Symlink(fmt.Sprintf("/proc/self/fd/%d", fd), link); err != nil {
				t.Fatal(err)
			}
			if err := Check(link); err != nil {
				t.Fatalf("got Check = %v, want nil", err)
			}
			if err := WriteFile(link, []byte(name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("got %v, %v after WriteFile, want the link kept", fi, err)
			}
		})
	}
	// Read without waiting (os.Pipe's ends do not block): the data is
	// there or it is not.
	rc, err := pr.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var n int
	if cerr := rc.Read(func(fd uintptr) bool { n, err = unix.Read(int(fd), buf); return true }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil || string(buf[:max(n, 0)]) != "pipe\n" {
		t.Errorf("got %q, %v from the pipe, want %q", buf[:max(n, 0)], err, "pipe\n")
	}
	if b, err := os.ReadFile(file.Name()); err != nil || string(b) != "file\n" {
		t.Errorf("got %q, %v in the redirected file, want %q", b, err, "file\n")
	}
	// /dev/fd/N reaches /proc through a directory link.
	if _, err := os.Stat("/dev/fd"); err != nil {
		t.Skipf("no /dev/fd: %v", err)
	}
	if err := WriteFile(fmt.Sprintf("/dev/fd/%d", file.Fd()), []byte("dev-fd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	was, _ := file.Stat()
	if now, err := os.Stat(file.Name()); err != nil || !os.SameFile(was, now) {
		t.Errorf("got the file behind /dev/fd/N replaced (%v), want it written in place", err)
	}
	if b, err := os.ReadFile(file.Name()); err != nil || string(b) != "dev-fd\n" {
		t.Errorf("got %q, %v in the file behind /dev/fd/N, want %q", b, err, "dev-fd\n")
	}
}

// TestWriteFileIntoDevice: a character device is written, never replaced:
// one made in a temporary directory (root only), then /dev/null, once the
// first has shown that a device is written in place.
func TestWriteFileIntoDevice(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod a null device (needs root and CAP_MKNOD): %v", err)
	}
	if tg, err := resolve(dev); err != nil || !tg.inPlace {
		t.Fatalf("got resolve(device) = %+v, %v; want it written in place", tg, err)
	}
	if err := WriteFile(dev, []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	isNull := func(path string) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			t.Fatalf("got %s mode %o rdev %d (%v) after WriteFile, want the null device kept", path, st.Mode, st.Rdev, err)
		}
	}
	isNull(dev)
	// /dev/null itself, only now that a device is known to be written in
	// place, and only if this is the real null device.
	var st unix.Stat_t
	if err := unix.Lstat("/dev/null", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Skip("/dev/null is not the null device here")
	}
	if tg, err := resolve("/dev/null"); err != nil || !tg.inPlace {
		t.Fatalf("got resolve(/dev/null) = %+v, %v; want it written in place", tg, err)
	}
	if err := Check("/dev/null"); err != nil {
		t.Fatalf("got Check(/dev/null) = %v, want nil", err)
	}
	if err := WriteFile("/dev/null", []byte("page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	isNull("/dev/null")
}

// TestWriteStreams: Write puts what its function writes, in pieces, in
// the file whole; a function that fails leaves the old file as it was and
// nothing beside it, and its error names the path.
func TestWriteStreams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "page.html")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half a page"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want boom naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("got %q after a failed Write, want the old file", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("got %d files after a failed Write, want only the old one", len(ents))
	}
	var want strings.Builder
	err = Write(path, 0o644, func(w io.Writer) error {
		for i := range 1000 {
			line := fmt.Sprintf("line %d\n", i)
			want.WriteString(line)
			if _, err := io.WriteString(w, line); err != nil {
				return err
			}
		}
		return nil
	})
	if b, rerr := os.ReadFile(path); err != nil || rerr != nil || string(b) != want.String() {
		t.Errorf("got %d bytes, %v, %v; want the %d written", len(b), err, rerr, want.Len())
	}
}
