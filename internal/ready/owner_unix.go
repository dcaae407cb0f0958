//go:build unix

package ready

import (
	"io/fs"
	"syscall"
)

// openFlags opens a ready file for reading without waiting: a FIFO put at
// the path is refused as it is, not waited on for a writer.
const openFlags = syscall.O_RDONLY | syscall.O_NONBLOCK

// fileOwner returns the uid that owns fi.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
