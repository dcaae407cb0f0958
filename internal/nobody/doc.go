// Package nobody runs part of a test as another local user: the
// unprivileged "nobody" (uid and gid 65534), for the tests that check what
// another user can do to a hub that root runs (squat its control socket,
// connect to it). The test binary runs itself again as nobody: a package's
// TestMain calls Main first, and a test starts a helper with Command.
//
// Only root can start a process as another user; elsewhere Command skips
// the test with a plain message. Package nobody is for tests only.
//
// Imports: nothing of l2hub.
package nobody
