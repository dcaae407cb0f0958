package control_test

import (
	"os"
	"testing"

	"l2hub/internal/nobody"
)

func TestMain(m *testing.M) {
	nobody.Main(nobody.Attacks)
	os.Exit(m.Run())
}
