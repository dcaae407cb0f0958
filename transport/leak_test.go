package transport_test

import (
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/nobody"
)

// TestMain fails the tests if a goroutine they started is still running
// once they are over: whatever starts goroutines here must stop them all.
// A test binary started as a nobody helper runs the helper instead.
func TestMain(m *testing.M) {
	nobody.Main(helpers)
	goleak.VerifyTestMain(m)
}
