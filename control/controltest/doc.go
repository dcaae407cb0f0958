// Package controltest serves a control API in a test, as
// net/http/httptest serves a handler: Serve runs a control.Server on a
// unix socket of its own until the test ends and returns the socket's
// path; ServeTarget and Client do so for a Target with the server's
// defaults, and Client gives a client of it. A test that needs another
// listener (TCP with a token, a socket at a path of its own) or that
// watches when Serve returns runs the server itself.
//
// Its functions fail the test they are given (t.Fatal), so they are
// called from the test's own goroutine. The server runs on its own
// goroutines until the test's cleanup, which stops it, waits for Serve to
// return and fails the test if Serve returned an error.
//
// Imports: control only; only tests import it.
package controltest
