package loadgen

import (
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/tied"
)

// TestMain fails the tests if a goroutine they started is still running
// once they are over: whatever starts goroutines here must stop them all.
// The thread that forks hubs is the process's, not a test's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(tied.LeakIgnore)) }
