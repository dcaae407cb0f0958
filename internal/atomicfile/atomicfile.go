package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/renameio/v2"
)

// WriteFile writes data to path atomically, with mode perm. An error names
// path (write PATH: permission denied).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return named(path, renameio.WriteFile(path, data, perm))
}

// Check reports whether WriteFile could write path now: its directory
// exists and takes a new file. It leaves nothing behind. A command that
// writes path only when it ends (a summary after a long run) checks at its
// start, so a typo costs a second, not the run.
func Check(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return &fs.PathError{Op: "write", Path: path, Err: errors.New("is a directory")}
	}
	t, err := renameio.TempFile("", path)
	if err != nil {
		return named(path, err)
	}
	return named(path, t.Cleanup())
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
