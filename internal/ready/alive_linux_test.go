//go:build linux

package ready

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestAliveSeesExitAndReuse: a running process is alive; once killed it is
// not, even before its parent reaps it (a zombie); and a start time other
// than the process's means another process has its pid.
func TestAliveSeesExitAndReuse(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here: Alive can only ask whether the pid exists")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	start := startTime(pid)
	if start == 0 || !Alive(pid, start) || !Alive(pid, 0) {
		t.Fatalf("a running process (start %d): Alive = %v, %v; want true", start, Alive(pid, start), Alive(pid, 0))
	}
	if Alive(pid, start+1) {
		t.Error("Alive with another start time = true: a reused pid is taken for the hub")
	}
	cmd.Process.Kill() // not reaped until the deferred Wait: a zombie
	for range 1000 {
		if state, _, _ := procStat(pid); state == 'Z' {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if Alive(pid, start) {
		t.Error("a killed process its parent has not reaped is taken as alive")
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Error("Alive of a pid <= 0 = true")
	}
}

// TestLiveHubsFileIsNotReplaced: a ready file that names another process
// that runs (by its pid and start time) is refused by Check and by Write,
// and left as it was; one whose pid another process has now (another
// start time), or whose process has exited, is replaceable.
func TestLiveHubsFileIsNotReplaced(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	pid := cmd.Process.Pid
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	path := filepath.Join(t.TempDir(), "hub.ready")
	live := Info{PID: pid, Start: startTime(pid), Ports: []Port{{Name: "a", Transport: "tcp", Addr: "127.0.0.1:7001"}}}
	if err := WriteFile(path, live); err != nil {
		t.Fatal(err)
	}
	was, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("ready file %s names a hub that is still running (pid %d): give this hub a ready file of its own", path, pid)
	for name, err := range map[string]error{"Check": Check(path), "WriteFile": WriteFile(path, Info{PID: os.Getpid()})} {
		if err == nil || err.Error() != want || !errors.Is(err, ErrLiveHub) {
			t.Errorf("%s over a live hub's file: got %v, want %s", name, err, want)
		}
	}
	if now, err := os.ReadFile(path); err != nil || string(now) != string(was) {
		t.Errorf("a live hub's ready file now holds %q (%v), want it as it was", now, err)
	}

	reused := live
	reused.Start++
	put(t, path, reused)
	if err := Check(path); err != nil {
		t.Errorf("Check over a file whose pid another process has now: %v", err)
	}
	put(t, path, live)
	cmd.Process.Kill()
	cmd.Wait()
	if err := Check(path); err != nil {
		t.Errorf("Check over the file of a hub that exited: %v", err)
	}
	if err := WriteFile(path, Info{PID: os.Getpid()}); err != nil {
		t.Errorf("WriteFile over the file of a hub that exited: %v", err)
	}
}

// put writes info to path as a hub would have, whatever is there.
func put(t *testing.T, path string, info Info) {
	t.Helper()
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
