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

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"
)

// WriteFile writes data to path atomically, with mode perm. An error names
// path (write PATH: permission denied).
//
// A symbolic link is followed: the file it leads to is replaced (by a
// rename in that file's directory) and the link stays. A path that leads
// to something other than a regular file (a device such as /dev/null, a
// FIFO, a socket), or through /proc (/dev/stdout, /dev/fd/1: an open
// file of this process), is written in place, never replaced.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile of what write writes, as it writes it: a large file
// is never held whole in memory. If write fails, path is left as it was
// (one written in place holds what write wrote before it failed).
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	t, err := resolve(path)
	if err != nil {
		return named(path, err)
	}
	if t.inPlace {
		return named(path, writeInPlace(path, write))
	}
	f, err := renameio.NewPendingFile(t.path, renameio.WithPermissions(perm), renameio.WithExistingPermissions())
	if err != nil {
		return named(path, err)
	}
	defer f.Cleanup()
	if err := write(f); err != nil {
		return named(path, err)
	}
	return named(path, f.CloseAtomicallyReplace())
}

// Check reports whether WriteFile could write path now: its directory
// exists and takes a new file (or, for a path written in place, it may be
// opened for writing). It leaves nothing behind. A command that writes path
// only when it ends (a summary after a long run) checks at its start, so a
// typo costs a second, not the run.
func Check(path string) error {
	t, err := resolve(path)
	if err != nil {
		return named(path, err)
	}
	if t.inPlace {
		// access(2), not open(2): opening a FIFO waits for a reader, and
		// opening some devices does something.
		return named(path, unix.Access(path, unix.W_OK))
	}
	p, err := renameio.TempFile("", t.path)
	if err != nil {
		return named(path, err)
	}
	return named(path, p.Cleanup())
}

// InPlace reports whether WriteFile writes path in place (a device, a
// FIFO, /dev/stdout) rather than replacing a file: a command that writes
// a page to /dev/stdout then says what it wrote elsewhere.
func InPlace(path string) bool {
	t, err := resolve(path)
	return err == nil && t.inPlace
}

// target is where WriteFile puts a path's data.
type target struct {
	path    string // the file to replace: path, or the file its links lead to
	inPlace bool   // write path itself, opened, rather than replace anything
}

// maxLinks bounds the symbolic links followed, as the kernel's own
// ELOOP does (40 on Linux).
const maxLinks = 40

// resolve follows path's links to the file WriteFile replaces, and says
// whether that must be written in place instead. Only the last element is
// followed by hand: links among the directories lead to the same
// directory, where a rename works as well.
func resolve(path string) (target, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return target{}, errors.New("is a directory")
		}
		return target{path: path, inPlace: true}, nil
	}
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return target{path: p}, nil // a new file (or a dangling link's target)
		}
		if err != nil {
			return target{}, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return target{path: p}, nil
		}
		if inProc(p) {
			// A link in /proc (/proc/self/fd/1, /dev/fd/1) names an open
			// file, which its text may not even name ("pipe:[1234]").
			return target{path: path, inPlace: true}, nil
		}
		to, err := os.Readlink(p)
		if err != nil {
			return target{}, err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(p), to)
		}
		p = to
	}
	return target{}, syscall.ELOOP
}

// inProc reports whether the link p lies in a directory of /proc.
func inProc(p string) bool {
	dir, err := filepath.Abs(filepath.Dir(p))
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir == "/proc" || strings.HasPrefix(dir, "/proc/")
}

// writeInPlace writes data into the existing file path: it truncates a
// regular file (as a shell's > does) and writes a device or a FIFO as a
// stream. A FIFO waits for its reader.
func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// named rewords err, from renameio, to name path rather than the
// temporary file it wrote first.
func named(path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: "write", Path: path, Err: pe.Err}
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return &fs.PathError{Op: "write", Path: path, Err: le.Err}
	}
	return fmt.Errorf("write %s: %w", path, err)
}
