// Package qemu runs one QEMU guest as a child process and follows its
// serial console: every line is kept in memory and written, stamped with the
// seconds since launch, to a log file, and callers wait for marker lines
// ("GUEST: ping ok") with a context for the bound. The end-to-end suite in
// package l2hub/e2e builds on it; this package knows nothing of the hub.
// StartTied starts any child (QEMU here, hubs and labs in the suite) so
// that on Linux it dies with this process, even one that panics.
//
// Concurrency: a Guest is safe for concurrent use. One goroutine per guest
// reads the console and one waits for the process; any number of callers may
// Wait at once.
//
// Imports: internal/shell (the logged command line) and internal/tied (the
// forking thread) only.
package qemu
