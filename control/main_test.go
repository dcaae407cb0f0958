package control_test

import (
	"testing"

	"go.uber.org/goleak"

	"l2hub/internal/nobody"
)

// TestMain fails the tests if a goroutine they started (a server, a
// client's stream) is still running once they are over.
func TestMain(m *testing.M) {
	nobody.Main(nobody.Attacks)
	goleak.VerifyTestMain(m)
}
