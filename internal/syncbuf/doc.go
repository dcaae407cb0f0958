// Package syncbuf holds a bytes.Buffer that one goroutine may write while
// another reads it: the log destination tests poll for a line.
//
// A Buffer is safe for concurrent use.
//
// Imports: nothing of l2hub.
package syncbuf
