// Package atomicfile writes the files l2hub leaves for people and tools (a
// ready file, a run's summary, a report page, the Wireshark plugin) so that
// a reader sees the old file or the whole new one, and says what went
// wrong in terms of the path the user gave, never of the temporary file
// beside it.
//
// What a path is decides how it is written, read with lstat(2) and never
// by following a link by hand:
//   - none yet, or a regular file: a temporary file beside it, renamed
//     over it;
//   - a symbolic link: replaced, as a regular file is, never followed (in
//     a shared directory such as /tmp, another user's link must not aim
//     the write elsewhere); but a link that leads to this process's own
//     standard output or error (/dev/stdout, /dev/fd/2) writes to that
//     open file, at its offset, as a shell's redirection set it up, and
//     so does a link to another of its own descriptors, /dev/fd/N or
//     /proc/self/fd/N (a shell's process substitution, >(gzip));
//   - a character device (/dev/null, a terminal): written in place,
//     opened without truncating;
//   - a FIFO: written in place once a reader has it open; with no reader
//     the write fails at once (ErrNoReader) rather than wait forever;
//   - anything else (a socket, a directory): an error.
//
// Concurrency contract: safe for concurrent use on different paths.
//
// Imports: nothing of l2hub.
package atomicfile
