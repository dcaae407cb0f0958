package control_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"l2hub/control"
	"l2hub/internal/ready"
)

// TestNotReadyNamesWhoAnswered: when the hub waited for exits, the wait
// says so, and names the process that answered meanwhile (another hub,
// most likely why this one exited).
func TestNotReadyNamesWhoAnswered(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	exited := fmt.Errorf("the hub (pid 42) %w: its own output says why", ready.ErrHubExited)
	cancel(exited)
	other := fmt.Errorf("%w: ready file h.ready %w (pid 7)", context.Canceled, ready.ErrOtherHub)
	err := control.NotReady(ctx, time.Second, other)
	if !errors.Is(err, ready.ErrHubExited) || !strings.Contains(err.Error(), "meanwhile ready file h.ready") || !strings.Contains(err.Error(), "(pid 7)") {
		t.Errorf("NotReady(hub exited, other hub answered) = %v, want the exit and pid 7", err)
	}
	if err := control.NotReady(ctx, time.Second, context.Canceled); err != exited {
		t.Errorf("NotReady(hub exited) = %v, want %v", err, exited)
	}
}

// TestNotReadyAfterTimeout: a wait that ran out of time says how long it
// waited and what the last try found, without Go's "context deadline
// exceeded", and still wraps what it found (errors.Is).
func TestNotReadyAfterTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	last := fmt.Errorf("%w: unix:/run/h.sock %w (served by pid 7)", context.DeadlineExceeded, control.ErrOtherHub)
	err := control.NotReady(ctx, 2*time.Second, last)
	if got, want := err.Error(), "not ready after 2s: unix:/run/h.sock is another process (served by pid 7)"; got != want {
		t.Errorf("got NotReady(timeout) = %q, want %q", got, want)
	}
	if !errors.Is(err, control.ErrOtherHub) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got NotReady(timeout) = %v, which does not wrap ErrOtherHub and the deadline", err)
	}
	other := errors.New("refused: wrong token")
	if err := control.NotReady(ctx, time.Second, other); err != other {
		t.Errorf("got NotReady(refused) = %v, want %v as it was", err, other)
	}
}
