//go:build !unix

package ready

// Alive reports whether a process with this pid exists; off Unix it trusts
// any positive pid.
func Alive(pid int) bool { return pid > 0 }
