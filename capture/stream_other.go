//go:build !linux

package capture

import "os"

// pollablePipe is Linux's only: elsewhere a capture to standard output
// writes f itself, and a write its reader never takes stays blocked (Close
// still returns after Config.CloseTimeout).
func pollablePipe(f *os.File) *os.File { return nil }
