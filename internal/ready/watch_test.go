//go:build unix

package ready

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWatchPID: a process that has already exited (or a pid that names
// none) cancels the context at once, one that exits while watched cancels
// it then, and in both the cause wraps ErrHubExited and names the pid; a
// process that runs leaves it be until the watch stops.
func TestWatchPID(t *testing.T) {
	const guard = 2 * time.Minute // fails a bug with a message; decides no pass
	ctx, stop := WatchPID(context.Background(), -1)
	if cause := context.Cause(ctx); !errors.Is(cause, ErrHubExited) || !strings.Contains(cause.Error(), "(pid -1)") {
		t.Errorf("WatchPID(no process): cause %v, want ErrHubExited naming pid -1", cause)
	}
	stop()

	ctx, stop = WatchPID(context.Background(), os.Getpid())
	if ctx.Err() != nil {
		t.Errorf("WatchPID(this process) ended at once: %v", context.Cause(ctx))
	}
	stop()
	if cause := context.Cause(ctx); cause != context.Canceled {
		t.Errorf("WatchPID(this process) stopped: cause %v, want context.Canceled", cause)
	}

	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot start a process: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // whatever failed; again is harmless
	pid := cmd.Process.Pid
	ctx, stop = WatchPID(context.Background(), pid)
	defer stop()
	if ctx.Err() != nil {
		t.Fatalf("WatchPID(a running process) ended at once: %v", context.Cause(ctx))
	}
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case <-ctx.Done():
	case <-time.After(guard):
		t.Fatalf("WatchPID(pid %d): not cancelled within %v of its exit", pid, guard)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrHubExited) || !strings.Contains(cause.Error(), "(pid "+strconv.Itoa(pid)+")") {
		t.Errorf("WatchPID(an exited process): cause %v, want ErrHubExited naming pid %d", cause, pid)
	}
}
