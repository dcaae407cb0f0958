// Package capturetest reads capture files in tests.
//
// Packets fails the test it is given (t.Fatal), so it is called from the
// test's own goroutine.
//
// Imports: capture only; only tests import it.
package capturetest
