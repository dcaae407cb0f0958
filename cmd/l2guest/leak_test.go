package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests, as root in a network namespace of their own
// (hermetic), and fails them if a goroutine they started is still running
// once they are over: whatever starts goroutines here must stop them all.
func TestMain(m *testing.M) {
	if code, ran := runHermetic(); ran {
		os.Exit(code)
	}
	if err := setUpHermetic(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
