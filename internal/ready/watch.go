package ready

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrHubExited is why a wait for a hub's process (l2hub wait --pid) ends
// when that process exits.
var ErrHubExited = errors.New("exited before it was ready")

// WatchPID returns ctx, cancelled (its cause wrapping ErrHubExited) once
// process pid has exited, and the function that stops watching. A pid
// that names no process at all, not even one exited and not yet reaped,
// may be a mistyped one as well as a hub that exited and was reaped (a
// shell reaps its jobs as they end), so the cause says both.
func WatchPID(ctx context.Context, pid int) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	gone := func() bool {
		if Alive(pid, 0) {
			return false
		}
		cancel(fmt.Errorf("the hub (pid %d) %w: its own output says why", pid, ErrHubExited))
		return true
	}
	if pid <= 0 || !exists(pid) {
		cancel(fmt.Errorf("no process %d: the hub %w (its own output says why), or that is not its pid", pid, ErrHubExited))
		return ctx, func() {}
	}
	if gone() {
		return ctx, func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if gone() {
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}
