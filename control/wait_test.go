package control_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err = control.NewClient(missing, "").WaitReady(ctx, time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady with nothing serving: %v, want it to end with the context", err)
	}
	// It says where it asked, and why the hub did not answer there.
	if msg := err.Error(); !strings.Contains(msg, missing) || !strings.Contains(msg, "no such file") {
		t.Errorf("WaitReady's error %q, want the address and the last reason (no such file)", msg)
	}
}
