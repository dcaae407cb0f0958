//go:build !unix

package ready

import "os"

// tryLock takes no lock: this system offers no flock.
func tryLock(*os.File) bool { return true }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
