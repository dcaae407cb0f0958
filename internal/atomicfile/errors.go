package atomicfile

import "errors"

// ErrNoReader is the error of a write to a FIFO that no process has open
// for reading: a write would wait for one forever.
var ErrNoReader = errors.New("no process is reading the FIFO")
