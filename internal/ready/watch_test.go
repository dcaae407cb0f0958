//go:build unix

package ready

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWatchPID: a pid that names no process, or one that has already
// exited, cancels the context at once, one that exits while watched
// cancels it then, and in each the cause wraps ErrHubExited and names the
// pid (no process: saying so, since the pid may be wrong); a process that
// runs leaves it be until the watch stops.
func TestWatchPID(t *testing.T) {
	const guard = 2 * time.Minute // fails a bug with a message; decides no pass
	reaped := exec.Command("true")
	if err := reaped.Run(); err != nil {
		t.Skipf("skipping: cannot run a process: %v", err)
	}
	for _, pid := range []int{-1, reaped.Process.Pid} {
		ctx, stop := WatchPID(context.Background(), pid)
		want := "no process " + strconv.Itoa(pid) + ": the hub exited before it was ready (its own output says why), or that is not its pid"
		if cause := context.Cause(ctx); !errors.Is(cause, ErrHubExited) || cause.Error() != want {
			t.Errorf("WatchPID(%d, no process): cause %v, want ErrHubExited: %s", pid, cause, want)
		}
		stop()
	}

	if runtime.GOOS == "linux" { // elsewhere a zombie counts as running
		zombie := exec.Command("true")
		if err := zombie.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(guard)
		for Alive(zombie.Process.Pid, 0) { // until it has exited, unreaped
			if time.Now().After(deadline) {
				t.Fatalf("true still runs after %v", guard)
			}
			time.Sleep(10 * time.Millisecond)
		}
		ctx, stop := WatchPID(context.Background(), zombie.Process.Pid)
		want := "the hub (pid " + strconv.Itoa(zombie.Process.Pid) + ") exited before it was ready: its own output says why"
		if cause := context.Cause(ctx); !errors.Is(cause, ErrHubExited) || cause.Error() != want {
			t.Errorf("WatchPID(a zombie): cause %v, want ErrHubExited: %s", cause, want)
		}
		stop()
		zombie.Wait()
	}

	ctx, stop := WatchPID(context.Background(), os.Getpid())
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
