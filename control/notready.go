package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"l2hub/internal/ready"
)

// NotReady says why a wait for a hub (l2hub wait, with a timeout of
// timeout) ended with err: the hub's process exited (ctx's cause wraps
// ready.ErrHubExited: ready.WatchPID), or the time ran out, with what the
// last try found — without Go's "context deadline exceeded" in between.
func NotReady(ctx context.Context, timeout time.Duration, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ready.ErrHubExited) {
		if errors.Is(err, ready.ErrOtherHub) || errors.Is(err, ErrOtherHub) {
			// What answered meanwhile: another hub, most likely the
			// reason this one exited.
			return fmt.Errorf("%w; meanwhile %s", cause, strings.TrimPrefix(err.Error(), context.Canceled.Error()+": "))
		}
		return cause
	}
	if errors.Is(err, context.DeadlineExceeded) {
		msg := strings.TrimPrefix(err.Error(), context.DeadlineExceeded.Error()+": ")
		return fmt.Errorf("not ready after %s: %w", timeout, &reworded{msg, err})
	}
	return err
}

// reworded is err in other words: errors.Is still finds what it wraps
// (ready.ErrOtherHub, ErrOtherHub).
type reworded struct {
	msg string
	err error
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }
