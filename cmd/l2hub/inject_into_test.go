package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInjectNeedsInto: inject without --into names the missing flag
// before it looks for a hub, rather than fail on the hub it cannot reach.
func TestInjectNeedsInto(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	err := run(context.Background(), []string{"inject", os.DevNull, "--control", sock}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `required flag(s) "into" not set`) {
		t.Errorf("got %v, want the missing --into named", err)
	}
}
