package ready

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// A hub owns its ready file for as long as it runs: it holds an exclusive
// flock(2) on the file (on its inode, which the lock follows from the
// temporary name to path), and the kernel drops the lock when the process
// ends, however it ends. So a hub that finds the file locked leaves it
// alone, and one that takes over a file left behind holds that file's
// lock while it replaces it: of two hubs started at once on one path,
// exactly one publishes.

// claimTries bounds how often claim looks again at a path that another
// process changed while it looked; each retry follows a change.
const claimTries = 8

// testHook, when set, is called at each step of claim that another
// process's claim may interleave with: "link", before publishing a new
// file, and "lock", before locking a file already there.
var testHook func(step string)

func hook(step string) {
	if testHook != nil {
		testHook(step)
	}
}

// claim publishes data at path as this process's ready file: written in
// full under a temporary name in path's directory, locked, then linked to
// path (link(2) fails where a file is already: no two hubs publish there).
// A file already at path is replaced (renamed over) only while this
// process holds its lock and it is still the one at path, and only when
// it names no process that runs: one another hub holds (locked), or that
// names a running process (a hub older than the lock), is refused
// (ErrLiveHub). On a file system without hard links, the file is renamed
// into place once checked, which is not exclusive.
func claim(path string, data []byte) (*File, error) {
	tmp, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	name, published := tmp.Name(), false
	defer func() {
		if !published {
			tmp.Close()
		}
		os.Remove(name) // after a link path keeps the file; after a rename name is gone
	}()
	if _, err := tmp.Write(data); err != nil {
		return nil, err
	}
	tryLock(tmp)
	written, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	for range claimTries {
		hook("link")
		err := os.Link(name, path)
		if err == nil {
			published = true
			return own(path, written, tmp), nil
		}
		if !errors.Is(err, fs.ErrExist) {
			// No hard links here: check, then rename (not exclusive).
			if err := checkOwner(path); err != nil {
				return nil, err
			}
			if err := os.Rename(name, path); err != nil {
				return nil, err
			}
			published = true
			return own(path, written, tmp), nil
		}
		replaced, err := replaceStale(path, name)
		if err != nil {
			return nil, err
		}
		if replaced {
			published = true
			return own(path, written, tmp), nil
		}
	}
	return nil, fmt.Errorf("%s: it kept changing while this hub looked: another process is writing it", path)
}

// replaceStale renames name over the file at path when no hub owns that
// file. It reports false, with no error, when path changed meanwhile (it
// went, or another file replaced it): the caller looks again.
func replaceStale(path, name string) (bool, error) {
	old, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		if terr := checkTarget(path); terr != nil {
			return false, terr
		}
		return false, err
	}
	defer old.Close() // its lock, if taken, goes after the rename
	fi, err := old.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		if terr := checkTarget(path); terr != nil {
			return false, terr
		}
		return false, nil
	}
	hook("lock")
	held := !tryLock(old)
	info, rerr := decode(old, path)
	if held {
		return false, heldErr(path, info, rerr)
	}
	if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, fi) {
		return false, nil
	}
	if rerr == nil && info.PID != os.Getpid() && knowsAlive && Alive(info.PID, info.Start) {
		return false, liveErr(path, info)
	}
	if err := os.Rename(name, path); err != nil {
		return false, err
	}
	return true, nil
}

// liveErr is why the ready file at path, which names info's running
// process, is not replaced.
func liveErr(path string, info Info) error {
	hint := ""
	if info.Start == 0 {
		hint = fmt.Sprintf(" (if pid %d is no longer that hub, remove the file)", info.PID)
	}
	return fmt.Errorf("ready file %s %w (pid %d): give this hub a ready file of its own%s", path, ErrLiveHub, info.PID, hint)
}

// heldErr is why a ready file another process holds locked is not
// replaced: a hub runs with it, or is taking it over right now.
func heldErr(path string, info Info, rerr error) error {
	if rerr == nil && Alive(info.PID, info.Start) {
		return liveErr(path, info)
	}
	return fmt.Errorf("ready file %s %w: another hub holds it (one starting on it now, or one in another PID namespace): give this hub a ready file of its own", path, ErrLiveHub)
}

// createTemp makes a new file, mode 0644 less the umask, beside path.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// owned is every ready file this process holds, for Remove and WriteFile
// to let go of.
var owned struct {
	sync.Mutex
	files map[*File]struct{}
}

// own returns the File for the file published at path, which lock holds.
func own(path string, written fs.FileInfo, lock *os.File) *File {
	f := &File{path: path, written: written, lock: lock}
	owned.Lock()
	defer owned.Unlock()
	if owned.files == nil {
		owned.files = make(map[*File]struct{})
	}
	owned.files[f] = struct{}{}
	return f
}

// release lets go of the file's lock: another hub may take the path
// over once this process no longer runs.
func (f *File) release() {
	owned.Lock()
	defer owned.Unlock()
	if f.lock != nil {
		f.lock.Close()
		f.lock = nil
	}
	delete(owned.files, f)
}
