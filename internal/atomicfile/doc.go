// Package atomicfile writes the files l2hub leaves for people and tools (a
// ready file, a run's summary, a report page, the Wireshark plugin) so that
// a reader sees the old file or the whole new one, and says what went
// wrong in terms of the path the user gave, never of the temporary file
// beside it. A path that is no regular file (/dev/null, a FIFO,
// /dev/stdout) is written in place, never replaced; a symbolic link is
// followed and stays.
//
// Concurrency contract: safe for concurrent use on different paths.
//
// Imports: nothing of l2hub.
package atomicfile
