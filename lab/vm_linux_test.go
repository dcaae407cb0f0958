package lab

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A QEMU started through a wrapper script that does not exec it is a
// grandchild of the runner: killing the runner with SIGKILL must still end
// it (the runner's parent-death signal reaches only the wrapper).
func TestRunnerKilledLeavesNoGrandchild(t *testing.T) {
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" +
		"# a QEMU wrapper that does not exec: its QEMU (here a sleep) is the runner's grandchild\n" +
		"sleep 3600 &\n" +
		"echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n" +
		"echo up\n" +
		"wait\n"
	if err := os.WriteFile(filepath.Join(dir, "qemu-wrap.sh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	lab := `
name: killed
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: ./qemu-wrap.sh, args: ["${RUN}/sleep.pid"], expect: [{marker: never}]}
`
	file := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(file, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	var out bytes.Buffer
	runner := exec.Command(os.Args[0], "-test.run=^$")
	runner.Env = append(os.Environ(), runnerEnv+"="+file, runnerDirEnv+"="+run)
	runner.Stdout, runner.Stderr = &out, &out
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { runner.Wait(); close(ended) }()
	defer func() {
		runner.Process.Kill()
		<-ended
		if t.Failed() {
			t.Logf("the runner printed:\n%s", out.String())
		}
	}()

	pidFile := filepath.Join(run, "sleep.pid")
	var pid int
	for deadline := time.Now().Add(hangGuard); pid == 0; time.Sleep(20 * time.Millisecond) {
		select {
		case <-ended:
			t.Fatalf("the runner ended before the wrapper started its QEMU")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", pidFile, hangGuard)
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if !sleeping(pid) {
		t.Fatalf("pid %d from %s is no sleep", pid, pidFile)
	}
	defer func() {
		if sleeping(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // a failed test leaves nothing either
		}
	}()

	runner.Process.Signal(syscall.SIGKILL)
	<-ended
	for deadline := time.Now().Add(hangGuard); sleeping(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the wrapper's QEMU (pid %d) still runs %v after the runner was killed", pid, hangGuard)
		}
	}
}

// sleeping reports whether pid is a live (not zombie) "sleep 3600".
func sleeping(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || string(cmdline) != "sleep\x003600\x00" {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state is after the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// The watchdog's hidden mode run by hand, not by a runner, kills nothing:
// not when the runner it is told of is not its parent, nor when it does not
// lead a process group of its own (its caller's group would be killed).
func TestWatchdogRunByHandKillsNothing(t *testing.T) {
	for _, tc := range []struct{ name, runner string }{
		{"not the parent", "1"},
		{"not a group leader", "$$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := watchdogEnv + "=" + tc.runner + ` "$0" ` + watchdogArg + `; echo "survived $?"`
			sh := exec.Command("/bin/sh", "-c", script, os.Args[0])
			sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // what it might kill is this group
			var out bytes.Buffer
			sh.Stdout, sh.Stderr = &out, &out
			if err := sh.Start(); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() { ended <- sh.Wait() }()
			var err error
			select {
			case err = <-ended:
			case <-time.After(hangGuard):
				syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)
				<-ended
				t.Fatalf("the watchdog still waits %v later; printed %q", hangGuard, out.String())
			}
			if err != nil || !strings.HasPrefix(out.String(), "survived ") {
				t.Errorf("got %v, printed %q, want the shell to survive the watchdog", err, out.String())
			}
		})
	}
}

// A wrapper that starts its QEMU in the background and exits leaves it in
// the VM's process group: once the wrapper has ended, what is left of the
// group is killed, not left running after the lab.
func TestRunKillsWhatAnEndedQEMULeft(t *testing.T) {
	t.Run("watchdog", testRunKillsWhatAnEndedQEMULeft)
	t.Run("none", func(t *testing.T) {
		defer func(exe string) { watchdogExe = exe }(watchdogExe)
		watchdogExe = filepath.Join(t.TempDir(), "no-such-l2hub")
		testRunKillsWhatAnEndedQEMULeft(t)
	})
}

func testRunKillsWhatAnEndedQEMULeft(t *testing.T) {
	dir := t.TempDir()
	wrapper := "#!/bin/sh\n" +
		"# a QEMU wrapper that starts its QEMU (here a sleep) in the background and exits\n" +
		"sleep 3600 >/dev/null 2>&1 </dev/null &\n" +
		"echo $! > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\n" +
		"echo up\n"
	qemu := filepath.Join(dir, "qemu-bg.sh")
	if err := os.WriteFile(qemu, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	text := `
name: background
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "` + qemu + `", args: ["${RUN}/sleep.pid", "${Q}"], expect: [{marker: never}]}
`
	// (runLab's ${Q}, the fake QEMU, is an argument the wrapper ignores.)
	sum, _ := runLab(t, text, Options{})
	b, err := os.ReadFile(filepath.Join(sum.Dir, "sleep.pid"))
	if err != nil {
		t.Fatalf("the wrapper wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("got pid %q from the wrapper", b)
	}
	defer func() {
		if sleeping(pid) {
			syscall.Kill(pid, syscall.SIGKILL) // a failed test leaves nothing either
		}
	}()
	for deadline := time.Now().Add(hangGuard); sleeping(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the QEMU the wrapper left (pid %d) still runs %v after the lab ended", pid, hangGuard)
		}
	}
}

// Without a watchdog (here: its executable cannot be started, as without
// /proc), each VM starts as before the watchdog existed, and the run says
// once what that costs.
func TestRunWithoutWatchdog(t *testing.T) {
	defer func(exe string) { watchdogExe = exe }(watchdogExe)
	watchdogExe = filepath.Join(t.TempDir(), "no-such-l2hub")
	const text = `
name: no-watchdog
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: "${Q}", args: [-say, up, -hang], expect: [{marker: up}]}
`
	sum, out := runLab(t, text, Options{})
	if sum.Result != ResultPass {
		t.Errorf("got %s, want pass", sum.Result)
	}
	const want = "may outlive a runner killed with SIGKILL"
	if n := strings.Count(out, want); n != 1 || strings.Count(out, "warning:") != 1 {
		t.Errorf("got %d warnings saying %q, want one", n, want)
	}
	checkNothingLeft(t, sum)
}
