//go:build linux

package ready

import (
	"os"
	"os/exec"
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
