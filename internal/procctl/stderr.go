package procctl

import (
	"context"
	"time"

	"l2hub/internal/logq"
)

// stderrCloseTimeout bounds how long the exit waits for stderr to take
// what is queued for it (logq): a stderr nobody reads must not hold the
// exit, once the summary and the ready file are dealt with.
const stderrCloseTimeout = 2 * time.Second

// CloseStderr writes what is queued for stderr, for stderrCloseTimeout
// (2s) at most.
func CloseStderr(q *logq.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), stderrCloseTimeout)
	defer cancel()
	q.Close(ctx)
}
