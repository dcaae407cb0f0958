package control_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"l2hub/control"
)

// WaitReady answers with the ports once the hub answers, and otherwise
// ends with the context, saying why the hub did not answer.
func TestWaitReady(t *testing.T) {
	_, path := serveFake(t, "")
	ports, err := control.NewClient(path, "").WaitReady(context.Background(), time.Millisecond)
	if err != nil || len(ports) == 0 {
		t.Fatalf("WaitReady on a serving hub: %v, %v", ports, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err = control.NewClient(missing, "").WaitReady(ctx, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady with nothing serving: %v, want it to end with the context", err)
	}
}
