// Package logq puts a process's log writer (its stderr) behind a bounded
// queue that one goroutine drains, so that a reader who stops reading (a
// paused pager, a terminal held with Ctrl-S, a wedged log shipper) costs
// log lines, never the time of the goroutine that logs: a hub must not
// wait for its stderr with frames in hand, nor stop without its summary.
//
// A full queue drops what is written to it, whole writes (a log record
// each), and counts their lines; once there is room again (or the queue
// drains), a notice says how many went, where they went missing. Close
// writes what is left, for as long as its context allows.
//
// Concurrency contract. A Writer is safe for concurrent use; Write never
// blocks on the writer underneath, only on the queue's own short lock.
//
// Imports: nothing of l2hub.
package logq
