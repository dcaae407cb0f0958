// Package atomicfile writes the files l2hub leaves for people and tools (a
// ready file, a run's summary, a report page, the Wireshark plugin) so that
// a reader sees the old file or the whole new one, and says what went
// wrong in terms of the path the user gave, never of the temporary file
// beside it.
//
// Imports: nothing of l2hub.
package atomicfile
