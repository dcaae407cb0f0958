// Package buildinfo says which build of l2hub is running: its version, the
// VCS revision the binary was built from (when the Go toolchain stamped
// one: a build inside a git checkout) and the Go version.
//
// Concurrency: Read and an Info's methods are safe for concurrent use.
//
// Imports: nothing of l2hub.
package buildinfo
