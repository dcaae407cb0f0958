// Package ready tells the world that a hub is ready: every port and the
// control API are bound, so a QEMU started now connects on its first try
// (QEMU never retries a failed connect=).
//
// A hub announces readiness two ways: a ready file, written atomically, that
// holds its pid and each port's address as JSON (--ready-file), and
// systemd's sd_notify READY=1 when NOTIFY_SOCKET is set. Wait is the other
// side: it returns once a ready file names a live process (WaitFor: the
// process waited for, and another hub's file ends the wait; WatchPID ends
// a wait once that process has exited). Read takes only a regular file of
// the caller's or root's (ErrNotYours): anyone may write a file in /tmp.
//
// Whether the process a ready file names still runs is read from /proc on
// Linux (a zombie does not count, and the start time recorded in the file
// guards against a reused pid), with kill(pid, 0) on other Unix systems;
// elsewhere any positive pid counts as alive.
//
// A ready file is a regular file or a path where nothing is yet: Check and
// Write refuse a FIFO (the hub's start would wait for a reader), a device,
// a link or a socket, and File.Remove deletes only the file Write made,
// while it is still there, never what another process put in its place.
// Nor do Check and Write replace a ready file that names another process
// that still runs (ErrLiveHub).
//
// A hub holds the ready file it wrote while it runs: an exclusive flock(2)
// on the file, which the kernel drops when the process ends, however it
// ends. Write publishes with link(2), which fails where a file already is,
// and replaces a file left behind only while it holds that file's lock;
// so of two hubs that write one path at once, exactly one does, and the
// other gets ErrLiveHub. (On a file system without hard links or flock
// the file is checked, then renamed into place: a later hub is refused,
// two at once may not be.)
//
// Concurrency: the functions are safe for concurrent use; a ready file is
// published whole, so a reader never sees half of one.
//
// Imports: internal/atomicfile (Check: whether the directory takes a new
// file).
package ready
