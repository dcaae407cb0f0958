package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"
)

// WriteFile writes data to path atomically, with mode perm (a regular
// file it replaces keeps its own). An error names path (write PATH:
// permission denied). What path is decides how it is written (see the
// package comment): a symbolic link is replaced, not followed, unless it
// leads to this process's standard output or error or is one of its own
// descriptors (/dev/fd/N); a device or a FIFO is written in place.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile of what write writes, as it writes it: a large file
// is never held whole in memory. If write fails, a file it replaces is
// left as it was; a path written in place (standard output, a device, a
// FIFO) has had what write wrote before it failed.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	t, err := classify(path)
	if err != nil {
		return named(path, err)
	}
	switch t.how {
	case toStd:
		return named(path, write(t.std))
	case toFD:
		defer t.std.Close()
		return named(path, write(t.std))
	case toDevice, toFIFO:
		f, err := t.open(path)
		if err != nil {
			return named(path, err)
		}
		if err := write(f); err != nil {
			f.Close()
			return named(path, err)
		}
		return named(path, f.Close())
	}
	// The temporary file goes beside path, never in $TMPDIR (renameio's
	// default when it is on path's file system): a writer killed mid-write
	// then leaves it where the output was to be, not in a shared /tmp.
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)),
		renameio.WithPermissions(perm), renameio.WithExistingPermissions())
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
// exists and takes a new file or, for a path written in place, it may be
// written (access(2)). It opens nothing and leaves nothing behind. A
// command that writes path only when it ends (a summary after a long run)
// checks at its start, so a typo costs a second, not the run. A FIFO with
// no reader yet passes: its reader may come before the write does.
func Check(path string) error {
	t, err := classify(path)
	if err != nil {
		return named(path, err)
	}
	switch t.how {
	case toStd:
		return nil
	case toFD:
		return t.std.Close()
	case toDevice, toFIFO:
		// Not open(2): a FIFO's reader would see its data end when the
		// check closed it, and opening some devices does something.
		return named(path, unix.Access(path, unix.W_OK))
	}
	p, err := renameio.TempFile(filepath.Dir(path), path)
	if err != nil {
		return named(path, err)
	}
	return named(path, p.Cleanup())
}

// InPlace reports whether WriteFile writes path in place (standard
// output, a device, a FIFO) rather than replacing a file: a command that
// writes a page to /dev/stdout then says what it wrote elsewhere.
func InPlace(path string) bool {
	t, err := classify(path)
	if t.how == toFD {
		t.std.Close()
	}
	return err == nil && t.how != replace
}

// how is the way WriteFile writes a path.
type how int

const (
	replace  how = iota // a temporary file beside path, renamed over it
	toStd               // this process's standard output or error, as it is open
	toFD                // another descriptor this process has open (/dev/fd/N), as it is open
	toDevice            // a character device, opened
	toFIFO              // a FIFO, opened once a reader has it open
)

// target is what classify found at a path.
type target struct {
	how how
	std *os.File    // toStd: os.Stdout or os.Stderr; toFD: a duplicate of the descriptor
	fi  fs.FileInfo // toDevice, toFIFO: the file lstat found, which the one opened must be
}

// classify says how WriteFile writes path, from what lstat(2) says it is.
// A link is never followed by hand: os.Stat follows it as the kernel does
// (fs.protected_symlinks included), only to tell whether it leads to
// standard output or error.
func classify(path string) (target, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return target{how: replace}, nil
	}
	if err != nil {
		return target{}, err
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return target{how: replace}, nil
	case m&fs.ModeSymlink != 0:
		if to, err := os.Stat(path); err == nil {
			if std := stdFile(to); std != nil {
				return target{how: toStd, std: std}, nil
			}
		}
		if f := ownFD(path); f != nil {
			return target{how: toFD, std: f}, nil
		}
		return target{how: replace}, nil
	case m.IsDir():
		return target{}, errors.New("is a directory")
	case m&fs.ModeCharDevice != 0:
		if std := stdFile(fi); std != nil {
			return target{how: toStd, std: std}, nil
		}
		return target{how: toDevice, fi: fi}, nil
	case m&fs.ModeNamedPipe != 0:
		return target{how: toFIFO, fi: fi}, nil
	case m&fs.ModeSocket != 0:
		return target{}, errors.New("is a socket (write to a file, a FIFO or a character device)")
	case m&fs.ModeDevice != 0:
		return target{}, errors.New("is a block device (write to a file, a FIFO or a character device)")
	}
	return target{}, fmt.Errorf("is not a file, a FIFO or a character device (mode %v)", fi.Mode())
}

// stdFile returns os.Stdout or os.Stderr when fi is the file it has open
// (the same device and inode: a terminal, a pipe, a socket, a file), nil
// if it is neither.
func stdFile(fi fs.FileInfo) *os.File {
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		if f == nil {
			continue
		}
		if sfi, err := f.Stat(); err == nil && os.SameFile(fi, sfi) {
			return f
		}
	}
	return nil
}

// ownFD returns a duplicate of descriptor N when path names one of this
// process's own descriptors, /dev/fd/N or /proc/self/fd/N (what a shell's
// process substitution, >(gzip), passes), nil otherwise. Those links are
// the process's own, so following them reaches nothing another user put
// there; writing through the descriptor keeps its offset, where reopening
// the link would start a file over.
func ownFD(path string) *os.File {
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil || dir != fmt.Sprintf("/proc/%d/fd", os.Getpid()) {
		return nil
	}
	n, err := strconv.Atoi(filepath.Base(path))
	if err != nil || n < 0 {
		return nil
	}
	fd, err := unix.Dup(n)
	if err != nil {
		return nil
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), path)
}

// open opens a device or a FIFO to write, without truncating or creating
// it and without following a link put there since classify looked. A FIFO
// is opened without waiting: with no reader it fails at once
// (ErrNoReader); once open, it is written as a blocking file.
func (t target) open(path string) (*os.File, error) {
	flags := unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_NOCTTY | unix.O_CLOEXEC
	if t.how == toFIFO {
		flags |= unix.O_NONBLOCK
	}
	fd, err := unix.Open(path, flags, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(path, flags, 0)
	}
	switch {
	case t.how == toFIFO && errors.Is(err, unix.ENXIO):
		return nil, ErrNoReader
	case err != nil:
		return nil, err
	}
	if t.how == toFIFO {
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	f := os.NewFile(uintptr(fd), path)
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, t.fi) {
		f.Close()
		return nil, errors.New("replaced while it was being opened")
	}
	return f, nil
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
