// Package promtest reads the series a Prometheus gatherer exports, for
// tests that check which series a collector gives.
//
// Its functions fail the test they are given (t.Fatal), so they are called
// from the test's own goroutine.
//
// Imports: nothing of l2hub; besides it the Prometheus client. Only tests
// import it.
package promtest
