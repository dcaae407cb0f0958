package tied

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

// The test binary doubles as the processes of TestStart: with roleEnv set
// to "parent" it is a parent (see parent), with "child" a child that
// hangs until killed.
const roleEnv = "L2HUB_TIED_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "parent":
		os.Exit(parent())
	case "child":
		time.Sleep(time.Hour) // until killed; select{} would trip the deadlock detector
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// parent starts a hanging child with Start, and a parent-death signal,
// from a goroutine that then exits locked to its thread, so that the
// thread ends. It prints the child's pid once the thread is gone and the
// child still runs, or an error line, and then hangs until killed.
func parent() int {
	// The main thread is never ended (a goroutine that exits locked to it
	// wedges it instead): keep the goroutine below off it.
	runtime.LockOSThread()
	tids := make(chan int)
	var cmd *exec.Cmd
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		cmd = exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), roleEnv+"=child")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := Start(cmd); err != nil {
			fmt.Println("error: Start:", err)
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

// TestStart: a child started with Start outlives the thread that started
// it, and dies when its parent process is killed (as a test binary dies of
// its -timeout panic, running no cleanups).
func TestStart(t *testing.T) {
	p := exec.Command(os.Args[0])
	p.Env = append(os.Environ(), roleEnv+"=parent", "GORACE=atexit_sleep_ms=0")
	out, err := p.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// A parent that never says anything is ended, and says nothing.
	guard := time.AfterFunc(time.Minute, func() { p.Process.Kill() })
	defer guard.Stop()
	defer func() {
		p.Process.Kill()
		p.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the parent said %q, want the child's pid", line)
	}
	p.Process.Kill()
	p.Wait()
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

// TestLeakIgnoreNamesTheForker: the name leak checks ignore is the forking
// goroutine's top function, so a rename cannot quietly fail every package
// that starts a tied child.
func TestLeakIgnoreNamesTheForker(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"=child")
	if err := Start(cmd); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for g := range strings.SplitSeq(stacks, "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) > 1 && strings.HasPrefix(lines[1], LeakIgnore+"(") {
			return
		}
	}
	t.Errorf("no goroutine has %s at the top of its stack:\n%s", LeakIgnore, stacks)
}
