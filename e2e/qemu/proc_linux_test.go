package qemu

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tieParent starts a hanging fake QEMU with StartTied from a goroutine
// that then exits locked to its thread, so that the thread ends. It prints
// the child's pid once the thread is gone and the child still runs, or an
// error line, and then hangs until killed.
func tieParent() int {
	// The main thread is never ended (a goroutine that exits locked to it
	// wedges it instead): keep the goroutine below off it.
	runtime.LockOSThread()
	tids := make(chan int)
	var cmd *exec.Cmd
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		cmd = exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), fakeEnv+"=hang")
		if err := StartTied(cmd); err != nil {
			fmt.Println("error: StartTied:", err)
			os.Exit(1)
		}
		tids <- syscall.Gettid()
	}()
	tid := <-tids
	for i := 0; ; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
			break
		}
		if i == 1000 {
			fmt.Println("error: the thread that started the child did not end")
			return 1
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A parent-death signal sent as the thread ended takes a moment to end
	// the child; a child that is still there after this stays.
	for range 20 {
		var ws syscall.WaitStatus
		if pid, _ := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOHANG, nil); pid != 0 {
			fmt.Printf("error: the child ended with the thread that started it (%v)\n", ws.Signal())
			return 1
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(cmd.Process.Pid)
	time.Sleep(time.Hour) // until killed
	return 0
}

// TestStartTied: a child started with StartTied outlives the thread that
// started it, and dies when its parent process is killed (as a test binary
// dies of its -timeout panic, running no cleanups).
func TestStartTied(t *testing.T) {
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), tieEnv+"=1", "GORACE=atexit_sleep_ms=0")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	// A parent that never says anything is ended, and says nothing.
	guard := time.AfterFunc(time.Minute, func() { parent.Process.Kill() })
	defer guard.Stop()
	defer func() {
		parent.Process.Kill()
		parent.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the parent said %q, want the child's pid", line)
	}
	parent.Process.Kill()
	parent.Wait()
	// The child, now init's, is gone or a zombie once it has died.
	for range 500 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if _, rest, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(rest, "Z") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("child %d still ran 10 s after its parent was killed", pid)
}
