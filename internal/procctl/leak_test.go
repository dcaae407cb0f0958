package procctl

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine they started is still running
// once they are over: whatever starts goroutines here must stop them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
