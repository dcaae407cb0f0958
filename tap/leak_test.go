package tap_test

import (
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/nobody"
)

// TestMain runs a helper as nobody when asked to (nobody.Command), and
// otherwise fails the tests if a goroutine they started is still running
// once they are over: whatever starts goroutines here must stop them all.
func TestMain(m *testing.M) {
	nobody.Main(nobodyHelpers)
	goleak.VerifyTestMain(m)
}
