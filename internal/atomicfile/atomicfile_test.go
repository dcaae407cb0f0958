package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/internal/umask"

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

// TestWriteFileKeepsReplacedFilesMode: a regular file WriteFile replaces
// keeps its own mode, whatever perm says: a summary the user made
// private (0600) does not become readable by all when a later run
// rewrites it with 0644.
func TestWriteFileKeepsReplacedFilesMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.json")
	writeFile(t, path, "old\n", 0o600)
	if err := os.Chmod(path, 0o600); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("got mode %v after replacing a 0600 file, want it kept (-rw-------)", got)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("got %q, want the new contents", b)
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

// TestWriteFileReplacesLinks: a symbolic link is replaced by the file
// written, as a regular file is, and never followed: not to the file it
// leads to in another directory (in a shared sticky directory such as
// /tmp, another user's link must not aim root's write at its files), not
// to a dangling link's target, not through a directory link and a
// relative "..", and not round a loop. Check passes for each and leaves
// nothing behind.
func TestWriteFileReplacesLinks(t *testing.T) {
	tests := []struct {
		name string
		// layout makes a link under root and what it leads to; it returns
		// the path to write and the paths that must stay as they were.
		layout func(t *testing.T, root string) (path string, kept []string)
	}{
		{"to-a-file-elsewhere", func(t *testing.T, root string) (string, []string) {
			secret, shared := mkdirs(t, root, "secret"), mkdirs(t, root, "shared")
			if err := os.Chmod(shared, 0o1777); err != nil {
				t.Fatal(err)
			}
			shadow := filepath.Join(secret, "shadow")
			writeFile(t, shadow, "root:secret-data\n", 0o600)
			return symlink(t, shadow, filepath.Join(shared, "report.html")), []string{shadow}
		}},
		{"dangling", func(t *testing.T, root string) (string, []string) {
			cron := filepath.Join(mkdirs(t, root, "cron.d"), "job")
			return symlink(t, cron, filepath.Join(root, "x.json")), []string{cron}
		}},
		{"through-a-directory-link", func(t *testing.T, root string) (string, []string) {
			// The kernel reads rel/a/link/x as rel/b/c/x, a link to
			// rel/b/y; lexically it would be rel/a/y.
			mkdirs(t, root, "rel/a")
			c := mkdirs(t, root, "rel/b/c")
			y := filepath.Join(root, "rel", "b", "y")
			writeFile(t, y, "old\n", 0o644)
			symlink(t, "../b/c", filepath.Join(root, "rel", "a", "link"))
			symlink(t, "../y", filepath.Join(c, "x"))
			return filepath.Join(root, "rel", "a", "link", "x"), []string{y, filepath.Join(root, "rel", "a", "y")}
		}},
		{"loop", func(t *testing.T, root string) (string, []string) {
			a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
			symlink(t, "b", a)
			symlink(t, "a", b)
			return a, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			path, kept := tt.layout(t, root)
			was := map[string]string{}
			for _, k := range kept {
				was[k] = snapshot(k)
			}
			dir := filepath.Dir(path)
			ents, _ := os.ReadDir(dir)
			if err := Check(path); err != nil {
				t.Fatalf("got Check = %v, want nil", err)
			}
			if InPlace(path) {
				t.Errorf("got InPlace(link) = true, want false")
			}
			if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mode, err := umask.Apply(0o644)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
				t.Fatalf("got %s: %s after WriteFile, want the link replaced by a file of mode %v (0644 less the umask)", path, snapshot(path), mode)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "new\n" {
				t.Errorf("got %q, %v at %s, want %q", b, err, path, "new\n")
			}
			for _, k := range kept {
				if now := snapshot(k); now != was[k] {
					t.Errorf("got %s %s after WriteFile, want it as it was: %s", k, now, was[k])
				}
			}
			if now, _ := os.ReadDir(dir); len(now) != len(ents) {
				t.Errorf("got %d entries in %s, want the %d there were", len(now), dir, len(ents))
			}
		})
	}
}

func mkdirs(t *testing.T, root, rel string) string {
	t.Helper()
	d := filepath.Join(root, rel)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFile(t *testing.T, path, s string, perm fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), perm); err != nil {
		t.Fatal(err)
	}
}

// symlink makes link lead to to, and returns link.
func symlink(t *testing.T, to, link string) string {
	t.Helper()
	if err := os.Symlink(to, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// snapshot says what path is, without following a link: its kind, mode
// and content, or that it is not there.
func snapshot(path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		return "absent"
	}
	b, _ := os.ReadFile(path)
	return fmt.Sprintf("%v %q", fi.Mode(), b)
}

// TestWriteFileIntoFIFO: a FIFO is written, not replaced by a file, as it
// is read (a page far larger than the pipe holds).
func TestWriteFileIntoFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader that is also a writer: opening it waits for no one, and it
	// never sees the end of the data before it has read it all.
	rd, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := Check(fifo); err != nil {
		t.Fatalf("got Check(FIFO) = %v, want nil", err)
	}
	if !InPlace(fifo) {
		t.Errorf("got InPlace(FIFO) = false, want true")
	}
	page := []byte(strings.Repeat("page\n", 200_000))
	read := make(chan []byte, 1)
	go func() {
		buf := make([]byte, len(page))
		n, _ := io.ReadFull(rd, buf)
		read <- buf[:n]
	}()
	if err := WriteFile(fifo, page, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := <-read; !bytes.Equal(got, page) {
		t.Fatalf("read %d bytes from the FIFO, want the %d written", len(got), len(page))
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("got %v, %v after WriteFile, want the FIFO kept", fi, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(fifo)); len(ents) != 1 {
		t.Errorf("got %d files beside the FIFO, want none", len(ents)-1)
	}
}

// TestWriteFileIntoFIFOWithoutReader: a FIFO no process reads fails the
// write at once (ErrNoReader), where waiting for a reader would hang the
// command for good (serve's shutdown, with --summary FIFO). Check, which
// opens nothing, passes: a reader may come before the write.
func TestWriteFileIntoFIFOWithoutReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := Check(fifo); err != nil {
		t.Fatalf("got Check(FIFO) = %v, want nil", err)
	}
	for name, write := range map[string]func() error{
		"WriteFile": func() error { return WriteFile(fifo, []byte("x"), 0o644) },
		"Write": func() error {
			return Write(fifo, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
		},
	} {
		done := make(chan error, 1)
		go func() { done <- write() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(hangGuard):
			// Unblock it: a reader that goes at once.
			if r, oerr := os.OpenFile(fifo, os.O_RDONLY, 0); oerr == nil {
				r.Close()
			}
			t.Fatalf("%s of a FIFO without a reader still waits after %v, want ErrNoReader at once", name, hangGuard)
		}
		if !errors.Is(err, ErrNoReader) || err.Error() != "write "+fifo+": no process is reading the FIFO" {
			t.Errorf("got %s = %v, want write %s: %v", name, err, fifo, ErrNoReader)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("got %v, %v, want the FIFO kept", fi, err)
	}
}

// hangGuard ends a wait for what must come at once, so that a hang fails
// the test instead of the run.
const hangGuard = time.Minute

// asStd makes out this process's standard output and errf its standard
// error while the test runs (nil keeps the one there is).
func asStd(t *testing.T, out, errf *os.File) {
	t.Helper()
	wasOut, wasErr := os.Stdout, os.Stderr
	if out != nil {
		os.Stdout = out
	}
	if errf != nil {
		os.Stderr = errf
	}
	t.Cleanup(func() { os.Stdout, os.Stderr = wasOut, wasErr })
}

// TestWriteToStandardOutput: a link that leads to this process's standard
// output or error (as /dev/stdout and /dev/fd/2 do, through /proc) is
// written through that open file as the shell set it up: after what was
// written before, without truncating a file opened to append (>>), at the
// offset standard error shares (> f 2>&1), and to a pipe or a socket. The
// link stays, and the file stays open. Write streams the same way.
func TestWriteToStandardOutput(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	// Each case sets standard output (and error) up as a shell would, and
	// returns how to read what reached it.
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (std *os.File, read func() string)
		want  string
	}{
		{"appended-file", func(t *testing.T, dir string) (*os.File, func() string) {
			path := filepath.Join(dir, "app.log")
			writeFile(t, path, "previous line\n", 0o644)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			asStd(t, f, nil)
			return f, func() string { b, _ := os.ReadFile(path); return string(b) }
		}, "previous line\npage\nafter\n"},
		{"file-shared-with-stderr", func(t *testing.T, dir string) (*os.File, func() string) {
			path := filepath.Join(dir, "both.html")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			asStd(t, f, f)
			if _, err := io.WriteString(os.Stderr, "banner\n"); err != nil {
				t.Fatal(err)
			}
			return f, func() string { b, _ := os.ReadFile(path); return string(b) }
		}, "banner\npage\nafter\n"},
		{"stderr-pipe", func(t *testing.T, dir string) (*os.File, func() string) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			asStd(t, nil, w)
			return w, func() string { w.Close(); b, _ := io.ReadAll(r); return string(b) }
		}, "page\nafter\n"},
		{"socket", func(t *testing.T, dir string) (*os.File, func() string) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Skipf("socketpair: %v", err)
			}
			w, r := os.NewFile(uintptr(fds[0]), "stdout-socket"), os.NewFile(uintptr(fds[1]), "reader")
			t.Cleanup(func() { r.Close(); w.Close() })
			asStd(t, w, nil)
			return w, func() string { w.Close(); b, _ := io.ReadAll(r); return string(b) }
		}, "page\nafter\n"},
	}
	for _, tt := range tests {
		for _, api := range []string{"WriteFile", "Write"} {
			t.Run(tt.name+"/"+api, func(t *testing.T) {
				dir := t.TempDir()
				std, read := tt.setup(t, dir)
				link := symlink(t, fmt.Sprintf("/proc/self/fd/%d", std.Fd()), filepath.Join(dir, "stdout"))
				if err := Check(link); err != nil || !InPlace(link) {
					t.Fatalf("got Check = %v, InPlace = %v; want nil, true", err, InPlace(link))
				}
				var err error
				if api == "WriteFile" {
					err = WriteFile(link, []byte("page\n"), 0o644)
				} else {
					err = Write(link, 0o644, func(w io.Writer) error {
						_, err := io.WriteString(w, "pa")
						if err == nil {
							_, err = io.WriteString(w, "ge\n")
						}
						return err
					})
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(std, "after\n"); err != nil {
					t.Fatalf("got %v writing after %s, want the file still open", err, api)
				}
				if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("got %s after %s, want the link kept", snapshot(link), api)
				}
				if got := read(); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// TestWriteFileRefusesSockets: a socket is no file to write: WriteFile and
// Check say so, and leave it.
func TestWriteFileRefusesSockets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	for name, err := range map[string]error{"WriteFile": WriteFile(path, []byte("x"), 0o644), "Check": Check(path)} {
		if err == nil || err.Error() != "write "+path+": is a socket (write to a file, a FIFO or a character device)" {
			t.Errorf("got %s = %v, want write %s: is a socket (...)", name, err, path)
		}
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		t.Errorf("got %v, %v, want the socket kept", fi, err)
	}
}

// TestWriteStreams: Write puts what its function writes, in pieces, in
// the file whole; its temporary file is beside path (the same file
// system, so the rename is atomic), never in $TMPDIR, even when that is
// on path's file system (as renameio would choose); a function that fails
// leaves the old file as it was and nothing beside it or in $TMPDIR, and
// its error names the path.
func TestWriteStreams(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	path := filepath.Join(dir, "page.html")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func(d string) []string {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half a page"); err != nil {
			return err
		}
		if got := names(dir); len(got) != 2 || !strings.HasPrefix(got[0], ".page.html") {
			t.Errorf("got %q beside the output while writing, want the old file and a temporary .page.html…", got)
		}
		if got := names(tmp); len(got) != 0 {
			t.Errorf("got %q in $TMPDIR while writing, want the temporary file beside the output instead", got)
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want boom naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("got %q after a failed Write, want the old file", b)
	}
	if got := names(dir); len(got) != 1 {
		t.Errorf("got %q after a failed Write, want only the old file", got)
	}
	if got := names(tmp); len(got) != 0 {
		t.Errorf("got %q in $TMPDIR after a failed Write, want nothing", got)
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

// A link to another of the process's own descriptors (/dev/fd/N, what a
// shell's process substitution >(gzip) passes) is written through that
// descriptor, as it is open: a pipe gets the data, and a file opened to
// append keeps what it had.
func TestWriteToOwnDescriptor(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd here:", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := fmt.Sprintf("/dev/fd/%d", w.Fd())
	if !InPlace(path) {
		t.Errorf("InPlace(%s) = false, want true", path)
	}
	if err := Check(path); err != nil {
		t.Errorf("Check(%s): %v", path, err)
	}
	if err := WriteFile(path, []byte("through the pipe\n"), 0o644); err != nil {
		t.Fatalf("WriteFile(%s): %v", path, err)
	}
	w.Close()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "through the pipe\n" {
		t.Errorf("the pipe's reader got %q, %v; want the data", got, err)
	}

	f, err := os.OpenFile(filepath.Join(t.TempDir(), "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("before\n")
	if err := WriteFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), []byte("after\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.Name()); string(got) != "before\nafter\n" {
		t.Errorf("the appended file holds %q, want both lines", got)
	}
}
