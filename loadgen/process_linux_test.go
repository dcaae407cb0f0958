package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHubProcessDiesWithTheBench: a bench killed with SIGKILL, which no
// handler sees, takes the hub process it started with it. The test runs
// itself as the bench (a helper that starts a child with hubCommand and
// prints its pid), kills the helper and waits for the child to go.
func TestHubProcessDiesWithTheBench(t *testing.T) {
	switch os.Getenv("LOADGEN_DEATHSIG") {
	case "child":
		time.Sleep(time.Minute)
		os.Exit(0)
	case "bench":
		cmd := hubCommand(os.Args[0], "-test.run=^TestHubProcessDiesWithTheBench$")
		cmd.Env = append(os.Environ(), "LOADGEN_DEATHSIG=child")
		if err := cmd.Start(); err != nil {
			fmt.Println("start:", err)
			os.Exit(2)
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	bench := exec.Command(os.Args[0], "-test.run=^TestHubProcessDiesWithTheBench$")
	bench.Env = append(os.Environ(), "LOADGEN_DEATHSIG=bench")
	out, err := bench.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bench.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		bench.Process.Kill()
		bench.Wait()
		t.Fatalf("the helper printed %q (%v), want the child's pid", line, errors.Join(err, perr))
	}
	bench.Process.Signal(syscall.SIGKILL)
	bench.Wait()
	// The child is reparented and reaped by whoever adopts it; a zombie
	// left unreaped counts as gone.
	for deadline := time.Now().Add(30 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the hub process %d outlived the bench killed with SIGKILL", pid)
		}
	}
}

// alive says whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
