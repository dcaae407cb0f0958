package lab

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/tied"
)

// verifyNoLeaks runs the tests and fails them if a goroutine they started
// is still running once they are over (whatever starts goroutines here must
// stop them all), then calls cleanup and exits. The package's TestMain
// (run_test.go, which builds the fake QEMU first) ends with it.
func verifyNoLeaks(m *testing.M, cleanup func()) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(tied.LeakIgnore), // the process's, not a test's
		goleak.Cleanup(func(code int) {
			cleanup()
			os.Exit(code)
		}))
}
