//go:build unix

package ready

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startOther starts a process that runs until the test ends: a live pid
// that is not this one.
func startOther(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot start a process: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// startWrapper starts a process that starts another (as timeout, sudo or
// go run start the hub: a child, not an exec) and runs until the test
// ends; it returns both pids.
func startWrapper(t *testing.T) (wrapper, child int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 3600 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot start sh: %v", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err == nil {
		child, err = strconv.Atoi(strings.TrimSpace(line))
	}
	t.Cleanup(func() {
		if child > 0 {
			syscall.Kill(child, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err != nil {
		t.Fatalf("the wrapper's child: %v", err)
	}
	return cmd.Process.Pid, child
}

// TestWaitForTheHubWaitedFor: l2hub wait --pid P takes P's ready file, or
// that of a process P started (P is a wrapper's pid: timeout, sudo, go
// run). A file that names another live process (another hub holds the
// path, and P will refuse to start on it; a pipeline's $!) is waited past,
// and a wait that ends meanwhile names both pids; one left by a process
// that has exited is waited past, until P writes its own.
func TestWaitForTheHubWaitedFor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.ready")
	wrapper, child := startWrapper(t)
	if err := WriteFile(path, Info{PID: child}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only stops a wait that would go on
	defer cancel()
	for _, pid := range []int{wrapper, child, 0} {
		if info, err := WaitFor(ctx, path, pid, time.Millisecond); err != nil || info.PID != child {
			t.Errorf("WaitFor(pid %d) on pid %d's file (wrapper %d's child) = %+v, %v; want it", pid, child, wrapper, info, err)
		}
	}

	if runtime.GOOS != "linux" {
		return // elsewhere, any process may be the wrapper's (Within)
	}
	// This process runs, and is not under the wrapper.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, Info{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond) // what ends the wait; not a bound on the test
	defer cancelShort()
	_, err := WaitFor(short, path, wrapper, time.Millisecond)
	if !errors.Is(err, ErrOtherHub) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", wrapper)) {
		t.Errorf("WaitFor(pid %d) on pid %d's file = %v, want it waited past until the deadline, then ErrOtherHub naming both", wrapper, os.Getpid(), err)
	}

	// A file a process that has exited left: waited past.
	gone := exec.Command(os.Args[0], "-test.run=^$")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, Info{PID: gone.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		info, err := WaitFor(ctx, path, os.Getpid(), time.Millisecond)
		if err == nil && info.PID != os.Getpid() {
			err = fmt.Errorf("got pid %d's file", info.PID)
		}
		done <- err
	}()
	if err := WriteFile(path, Info{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("WaitFor(this process) past a stale file: %v", err)
	}
}

// TestAnotherUsersReadyFileIsNotTaken: a ready file in a shared directory
// that another user wrote (naming a live process of theirs and their
// addresses) is refused, at once, by Read, Wait and WaitFor.
func TestAnotherUsersReadyFileIsNotTaken(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: only root can give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "hub.ready")
	if err := WriteFile(path, Info{PID: startOther(t), Ports: []Port{{Name: "a", Transport: "tcp", Addr: "127.0.0.1:6666"}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); !errors.Is(err, ErrNotYours) || !strings.Contains(err.Error(), "uid 65534") || !strings.Contains(err.Error(), "a directory of yours") || strings.Contains(err.Error(), "runuser") {
		t.Errorf("Read of nobody's ready file = %v, want ErrNotYours naming uid 65534, and to use a directory of one's own (not to run wait as nobody)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only stops a wait that would go on
	defer cancel()
	if _, err := Wait(ctx, path, time.Millisecond); !errors.Is(err, ErrNotYours) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on nobody's ready file = %v, want ErrNotYours at once", err)
	}
	if err := os.Chown(path, 0, 0); err != nil { // root's is taken
		t.Fatal(err)
	}
	if _, err := Read(path); err != nil {
		t.Errorf("Read of root's ready file: %v", err)
	}
}

// TestReadDoesNotWaitOnAFIFO: a FIFO put at the ready file's path is
// refused at once, not opened to wait for a writer that never comes.
func TestReadDoesNotWaitOnAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.ready")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Read(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Read of a FIFO = %v, want it refused as not a regular file", err)
		}
	case <-time.After(time.Minute):
		w, _ := os.OpenFile(path, os.O_WRONLY, 0) // lets the stuck Read go
		w.Close()
		t.Fatal("Read of a FIFO waited for a writer")
	}
}
