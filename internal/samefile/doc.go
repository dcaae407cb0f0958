// Package samefile keeps a command from writing over a file it reads: an
// output named like one of its inputs (the same path, another path to it,
// a hard or symbolic link) is refused before anything is opened for
// writing. A character device (/dev/null) is shared freely: a write there
// destroys nothing.
//
// Imports: nothing of l2hub.
package samefile
