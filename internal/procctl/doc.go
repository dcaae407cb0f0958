// Package procctl is what l2hub's process does around the command it runs:
// it turns SIGINT, SIGTERM and SIGHUP into a stop (Notify, Watch), with the
// cause the logs name ("stopped by SIGINT", StopCause), ends the process on
// a second signal that is not a copy of the first, and says on stderr what
// is the process's own, not the command's (Console: the stop notice and the
// command's error, as lines or as records of the command's log). It also
// bounds how long the exit waits for a stderr queue (CloseStderr).
//
// Concurrency: a Console is safe for concurrent use; Watch runs on a
// goroutine of its own until its done channel closes.
//
// Imports: internal/logq (the stderr queue CloseStderr drains).
package procctl
