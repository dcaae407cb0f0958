package umask

import (
	"io/fs"
	"os"
)

// Apply returns perm as a file created now with it gets it: perm less the
// bits of the process's umask. It creates (and removes) a file in the
// temporary directory to find out, since a process can read its umask
// only by setting it, which would race with other goroutines creating
// files.
func Apply(perm fs.FileMode) (fs.FileMode, error) {
	f, err := os.CreateTemp("", "l2hub-umask-")
	if err != nil {
		return 0, err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	// CreateTemp asks for 0600; a fresh file made with 0777 shows the
	// umask whole.
	if err := os.Remove(name); err != nil {
		return 0, err
	}
	g, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o777)
	if err != nil {
		return 0, err
	}
	fi, err := g.Stat()
	g.Close()
	if err != nil {
		return 0, err
	}
	mask := ^fi.Mode().Perm() & fs.ModePerm
	return perm &^ mask, nil
}
