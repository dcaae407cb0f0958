package ready

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"l2hub/internal/atomicfile"
)

// WriteFile is Write for a ready file that is never taken back: the
// process does not hold it (another may replace it once the process it
// names has exited).
func WriteFile(path string, info Info) error {
	f, err := Write(path, info)
	if f != nil {
		f.release()
	}
	return err
}

// File is a ready file this process wrote and holds.
type File struct {
	path    string
	written fs.FileInfo // what Write made: Remove deletes path only while it is this file
	lock    *os.File    // open on the file, holding its lock; nil once released
}

// Check reports whether a ready file can be written at path now, leaving
// nothing behind: nothing is there yet or a regular file is, and its
// directory takes a new file. A FIFO, a device, a link or a socket is
// refused: a ready file is replaced when the hub is ready and removed when
// it stops, which would hang on a FIFO and delete the others.
func Check(path string) error {
	if err := checkTarget(path); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	if err := checkOwner(path); err != nil {
		return err // it says "ready file" and the path
	}
	if err := atomicfile.Check(path); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}

// ErrLiveHub is why a ready file that names another running process is
// not replaced: a second hub given the same path would take the first
// one's announcement (a script waiting there would connect its VMs to the
// wrong hub), then delete it when it stops.
var ErrLiveHub = errors.New("names a hub that is still running")

// checkOwner refuses a ready file that names another process that still
// runs (Alive: on Linux the very process that wrote it, by its start
// time). A file of this process's, one left by a process that has exited,
// or one that does not parse is replaceable. Where the system cannot say
// whether a process runs, nothing is refused.
func checkOwner(path string) error {
	info, err := readAny(path)
	if err != nil || info.PID == os.Getpid() || !knowsAlive || !Alive(info.PID, info.Start) {
		return nil
	}
	return liveErr(path, info)
}

// checkTarget refuses a path that is there and is no regular file.
func checkTarget(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var what string
	switch m := fi.Mode(); {
	case m.IsRegular():
		return nil
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	default:
		what = "not a regular file"
	}
	return &fs.PathError{Op: "write", Path: path, Err: fmt.Errorf("is %s; a ready file must be a regular file or a new path (it is replaced when the hub is ready and removed when it stops)", what)}
}

// Remove deletes the ready file, so a stopped hub is not taken for a ready
// one, but only while its path is still the file Write made: a regular
// file, the same device and inode. Whatever else is there now (another
// hub's ready file, anything put in its place) is left alone, as is a
// missing file. Then the process no longer holds it. A nil File removes
// nothing.
func (f *File) Remove() error {
	if f == nil {
		return nil
	}
	defer f.release() // once the file is gone: until then no other hub takes it
	fi, err := os.Lstat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("ready file: %w", err)
	case !fi.Mode().IsRegular() || !os.SameFile(fi, f.written):
		return nil
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ready file: %w", err)
	}
	return nil
}
